package io.autoglm.redis;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.ResponseFormat;
import io.autoglm.SamplingParams;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.ResponseCache;
import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * How {@link RedisResponseCache} names and stores entries: a key is the SHA-256 of a canonical JSON form of the
 * {@link ResponseCache.Key} (stop ids sorted, so every JVM spells one key alike), a value the result as JSON.
 */
final class ResultCodec {
  static final int VERSION = 1;
  private static final Gson GSON = new Gson();

  private ResultCodec() {}

  /** The hex SHA-256 of the key's canonical form. */
  static String digest(ResponseCache.Key key) {
    JsonArray a = new JsonArray();
    a.add(VERSION);
    a.add(key.modelId());
    JsonArray ids = new JsonArray();
    key.promptTokenIds().forEach(ids::add);
    a.add(ids);
    a.add(key.promptText().map(t -> (JsonElement) new com.google.gson.JsonPrimitive(t)).orElse(JsonNull.INSTANCE));
    SamplingParams p = key.params();
    a.add(p.maxNewTokens());
    a.add(p.temperature());
    a.add(p.topK());
    a.add(p.topP());
    a.add(p.seed().isPresent() ? new com.google.gson.JsonPrimitive(p.seed().getAsLong()) : JsonNull.INSTANCE);
    JsonArray stopIds = new JsonArray();
    p.stopTokenIds().stream().sorted().forEach(stopIds::add);
    a.add(stopIds);
    JsonArray stop = new JsonArray();
    p.stop().forEach(stop::add);
    a.add(stop);
    a.add(p.ignoreEos());
    a.add(p.responseFormat().map(ResultCodec::format).orElse(JsonNull.INSTANCE));
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(a.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(hash);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static JsonElement format(ResponseFormat f) {
    JsonArray a = new JsonArray();
    a.add(f.type().name());
    a.add(f.jsonSchema().orElse(""));
    a.add(GSON.toJsonTree(f.tools()));
    a.add(f.toolName().orElse(""));
    return a;
  }

  static String encode(GenerationResult r) {
    JsonObject o = new JsonObject();
    o.addProperty("v", VERSION);
    o.addProperty("requestId", r.requestId());
    JsonArray ids = new JsonArray();
    r.tokenIds().forEach(ids::add);
    o.add("tokenIds", ids);
    o.addProperty("text", r.text());
    o.addProperty("finishReason", r.finishReason().name());
    JsonArray usage = new JsonArray();
    usage.add(r.usage().promptTokens());
    usage.add(r.usage().completionTokens());
    usage.add(r.usage().cachedPromptTokens());
    o.add("usage", usage);
    r.error().ifPresent(e -> o.addProperty("error", e));
    r.answer().ifPresent(a -> {
      JsonObject answer = new JsonObject();
      answer.addProperty("content", a.content());
      a.reasoningContent().ifPresent(c -> answer.addProperty("reasoning", c));
      JsonArray calls = new JsonArray();
      for (ToolCall c : a.toolCalls()) {
        JsonArray call = new JsonArray();
        call.add(c.id());
        call.add(c.name());
        call.add(c.argumentsJson());
        calls.add(call);
      }
      answer.add("toolCalls", calls);
      o.add("answer", answer);
    });
    return o.toString();
  }

  /**
   * The stored result.
   *
   * @throws IllegalArgumentException when the value is not one this codec wrote (another version, a foreign key)
   */
  static GenerationResult decode(String json) {
    try {
      JsonObject o = JsonParser.parseString(json).getAsJsonObject();
      if (o.get("v").getAsInt() != VERSION) {
        throw new IllegalArgumentException("cached value has version " + o.get("v") + ", expected " + VERSION);
      }
      List<Integer> ids = new ArrayList<>();
      o.getAsJsonArray("tokenIds").forEach(e -> ids.add(e.getAsInt()));
      JsonArray u = o.getAsJsonArray("usage");
      Optional<ParsedAnswer> answer = Optional.empty();
      if (o.has("answer")) {
        JsonObject a = o.getAsJsonObject("answer");
        List<ToolCall> calls = new ArrayList<>();
        a.getAsJsonArray("toolCalls").forEach(e -> calls.add(new ToolCall(e.getAsJsonArray().get(0).getAsString(),
            e.getAsJsonArray().get(1).getAsString(), e.getAsJsonArray().get(2).getAsString())));
        answer = Optional.of(new ParsedAnswer(a.get("content").getAsString(),
            a.has("reasoning") ? Optional.of(a.get("reasoning").getAsString()) : Optional.empty(), calls));
      }
      return new GenerationResult(o.get("requestId").getAsString(), ids, o.get("text").getAsString(),
          FinishReason.valueOf(o.get("finishReason").getAsString()),
          new Usage(u.get(0).getAsInt(), u.get(1).getAsInt(), u.get(2).getAsInt()),
          o.has("error") ? Optional.of(o.get("error").getAsString()) : Optional.empty(), answer);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("cached value is not a stored result: " + e.getMessage(), e);
    }
  }
}

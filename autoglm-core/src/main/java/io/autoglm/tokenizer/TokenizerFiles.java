package io.autoglm.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a checkpoint folder says about its tokenizer: the tokenizer.json (read, or converted from a tiktoken
 * {@code tokenizer.model}), the added tokens, {@code tokenizer_config.json}, and the eos ids.
 *
 * @param tokenizerJson a complete Hugging Face tokenizer.json
 * @param addedTokens   the added tokens, in id order
 * @param config        tokenizer_config.json, or an empty object when absent
 * @param eosTokenIds   generation_config.json's eos ids, else tokenizer_config's {@code eos_token}; may be empty
 */
record TokenizerFiles(JsonObject tokenizerJson, List<AddedToken> addedTokens, JsonObject config,
    List<Integer> eosTokenIds) {

  TokenizerFiles {
    addedTokens = List.copyOf(addedTokens);
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  static TokenizerFiles read(Path dir) {
    JsonObject config = readJson(dir.resolve("tokenizer_config.json")).orElseGet(JsonObject::new);
    Path json = dir.resolve("tokenizer.json");
    Path model = dir.resolve("tokenizer.model");
    JsonObject tokenizerJson;
    List<AddedToken> added;
    if (Files.isRegularFile(json)) {
      tokenizerJson = readJson(json).orElseThrow();
      added = merge(addedTokens(tokenizerJson.getAsJsonArray("added_tokens"), json), config,
          dir.resolve("tokenizer_config.json"));
      JsonArray addedJson = new JsonArray();
      added.forEach(t -> addedJson.add(t.toJson()));
      tokenizerJson.add("added_tokens", addedJson);
    } else if (Files.isRegularFile(model) && TiktokenConverter.isRankFile(model)) {
      added = addedTokensDecoder(config, dir.resolve("tokenizer_config.json"));
      tokenizerJson = TiktokenConverter.convert(model, added);
    } else {
      throw new ModelLoadException("no tokenizer in " + dir
          + ": expected tokenizer.json, or a tiktoken tokenizer.model with tokenizer_config.json");
    }
    return new TokenizerFiles(tokenizerJson, added, config, eosIds(dir, config, added));
  }

  static Optional<JsonObject> readJson(Path file) {
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JsonParser.parseString(Files.readString(file)).getAsJsonObject());
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException("cannot read " + file + " as a JSON object: " + e.getMessage(), e);
    }
  }

  private static List<AddedToken> addedTokens(JsonArray array, Path file) {
    List<AddedToken> out = new ArrayList<>();
    if (array == null) {
      return out;
    }
    for (JsonElement e : array) {
      JsonObject o = e.getAsJsonObject();
      out.add(token(o.get("id").getAsInt(), o, file));
    }
    return out;
  }

  private static List<AddedToken> addedTokensDecoder(JsonObject config, Path file) {
    List<AddedToken> out = new ArrayList<>();
    JsonObject decoder = config.getAsJsonObject("added_tokens_decoder");
    if (decoder == null) {
      throw new ModelLoadException(file + ": a tiktoken tokenizer.model needs 'added_tokens_decoder' here "
          + "for its special tokens, found none");
    }
    for (Map.Entry<String, JsonElement> e : decoder.entrySet()) {
      out.add(token(Integer.parseInt(e.getKey()), e.getValue().getAsJsonObject(), file));
    }
    out.sort((a, b) -> Integer.compare(a.id(), b.id()));
    return out;
  }

  /**
   * tokenizer.json's added tokens plus tokenizer_config.json's: {@code added_tokens_decoder} entries it lacks, and
   * {@code special} where either file (or {@code additional_special_tokens}) says so.
   */
  private static List<AddedToken> merge(List<AddedToken> fromJson, JsonObject config, Path configFile) {
    java.util.TreeMap<Integer, AddedToken> byId = new java.util.TreeMap<>();
    fromJson.forEach(t -> byId.put(t.id(), t));
    if (config.has("added_tokens_decoder")) {
      for (AddedToken t : addedTokensDecoder(config, configFile)) {
        AddedToken old = byId.get(t.id());
        if (old != null && !old.content().equals(t.content())) {
          throw new ModelLoadException(String.format("added token %d is '%s' in tokenizer.json but '%s' in %s",
              t.id(), old.content(), t.content(), configFile));
        }
        byId.put(t.id(), new AddedToken(t.id(), t.content(), t.special() || (old != null && old.special())));
      }
    }
    java.util.Set<String> named = new java.util.HashSet<>();
    if (config.has("additional_special_tokens") && config.get("additional_special_tokens").isJsonArray()) {
      config.getAsJsonArray("additional_special_tokens").forEach(e -> named.add(contentOf(e)));
    }
    List<AddedToken> out = new ArrayList<>();
    for (AddedToken t : byId.values()) {
      out.add(new AddedToken(t.id(), t.content(), t.special() || named.contains(t.content())));
    }
    return out;
  }

  /** A special-token entry of tokenizer_config.json: a string, or an object with {@code content}. */
  private static String contentOf(JsonElement e) {
    return e.isJsonObject() ? e.getAsJsonObject().get("content").getAsString() : e.getAsString();
  }

  private static AddedToken token(int id, JsonObject o, Path file) {
    try {
      return new AddedToken(id, o.get("content").getAsString(), o.has("special") && o.get("special").getAsBoolean());
    } catch (RuntimeException e) {
      throw new ModelLoadException(file + ": added token " + id + " is malformed: " + e.getMessage(), e);
    }
  }

  private static List<Integer> eosIds(Path dir, JsonObject config, List<AddedToken> added) {
    LinkedHashSet<Integer> ids = new LinkedHashSet<>();
    readJson(dir.resolve("generation_config.json")).map(g -> g.get("eos_token_id")).ifPresent(e -> {
      if (e.isJsonArray()) {
        e.getAsJsonArray().forEach(x -> ids.add(x.getAsInt()));
      } else if (e.isJsonPrimitive()) {
        ids.add(e.getAsInt());
      }
    });
    JsonElement eos = config.get("eos_token");
    if (ids.isEmpty() && eos != null && !eos.isJsonNull()) {
      String content = contentOf(eos);
      added.stream().filter(t -> t.content().equals(content)).forEach(t -> ids.add(t.id()));
    }
    return new ArrayList<>(ids);
  }
}

package io.autoglm.examples.cli.serve;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Streamed chat completions ({@code stream_options.include_usage}) to {@code URL/v1/chat/completions} over
 * {@code java.net.http}. A failed request's kind: {@code http_NNN} (a status other than 200), {@code stream_error} (an
 * error chunk), {@code no_done} (the stream ended without {@code [DONE]}), {@code bad_chunk} (a chunk that is not
 * JSON), {@code io} (a connection failure or the per-request timeout).
 */
final class HttpTarget implements ServeLoad.Target {
  private final ServeLoad.Settings settings;
  private final URI uri;
  private final HttpClient http;

  HttpTarget(ServeLoad.Settings settings) {
    this.settings = settings;
    String base = Objects.requireNonNull(settings.baseUrl(), "baseUrl").toString().replaceAll("/+$", "");
    this.uri = URI.create(base.endsWith("/v1") ? base + "/chat/completions" : base + "/v1/chat/completions");
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
        .build();
  }

  String body(PromptSource.Prompt p) {
    JsonObject b = new JsonObject();
    if (settings.model() != null) {
      b.addProperty("model", settings.model());
    }
    b.add("messages", p.messages());
    b.addProperty("max_tokens", p.maxTokens());
    b.addProperty("temperature", settings.temperature());
    b.addProperty("stream", true);
    JsonObject options = new JsonObject();
    options.addProperty("include_usage", true);
    b.add("stream_options", options);
    if (settings.ignoreEos()) {
      b.addProperty("ignore_eos", true);
    }
    return b.toString();
  }

  @Override
  public String describe() {
    return uri.toString();
  }

  @Override
  public RequestOutcome send(PromptSource.Prompt prompt, long runStart) {
    String body = body(prompt);
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .header("Accept", "text/event-stream").POST(HttpRequest.BodyPublishers.ofString(body))
        .timeout(settings.timeout());
    if (settings.apiKey() != null) {
      b.header("Authorization", "Bearer " + settings.apiKey());
    }
    long sent = System.nanoTime();
    try {
      HttpResponse<Stream<String>> r = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
      try (Stream<String> lines = r.body()) {
        if (r.statusCode() != 200) {
          String text = String.join(" ", lines.limit(5).toList());
          return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "http_" + r.statusCode(),
              text.length() > 300 ? text.substring(0, 300) : text);
        }
        return read(lines.iterator(), sent, runStart);
      }
    } catch (IOException | RuntimeException e) {
      return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "io", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "io", "interrupted");
    }
  }

  private static RequestOutcome read(Iterator<String> lines, long sent, long runStart) {
    long first = -1;
    long last = -1;
    int chunks = 0;
    int promptTokens = -1;
    int completionTokens = -1;
    List<Long> gaps = new ArrayList<>();
    while (lines.hasNext()) {
      String line = lines.next();
      if (!line.startsWith("data:")) {
        continue;
      }
      String data = line.substring(5).trim();
      if (data.equals("[DONE]")) {
        long[] itl = gaps.stream().mapToLong(Long::longValue).toArray();
        int out = completionTokens >= 0 ? completionTokens : chunks;
        return new RequestOutcome(sent - runStart, first < 0 ? -1 : first - sent, System.nanoTime() - sent,
            promptTokens, out, itl, null, null);
      }
      JsonObject chunk;
      try {
        JsonElement e = JsonParser.parseString(data);
        chunk = e.isJsonObject() ? e.getAsJsonObject() : null;
      } catch (JsonParseException e) {
        chunk = null;
      }
      if (chunk == null) {
        return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "bad_chunk", data);
      }
      if (chunk.has("error")) {
        return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "stream_error", data);
      }
      if (chunk.has("usage") && chunk.get("usage").isJsonObject()) {
        JsonObject u = chunk.getAsJsonObject("usage");
        promptTokens = u.has("prompt_tokens") ? u.get("prompt_tokens").getAsInt() : promptTokens;
        completionTokens = u.has("completion_tokens") ? u.get("completion_tokens").getAsInt() : completionTokens;
      }
      if (hasText(chunk)) {
        long now = System.nanoTime();
        chunks++;
        if (first < 0) {
          first = now;
        } else {
          gaps.add(now - last);
        }
        last = now;
      }
    }
    return RequestOutcome.failed(sent - runStart, System.nanoTime() - sent, "no_done",
        "stream ended without [DONE] after " + chunks + " content chunks");
  }

  /** Whether a chunk carries generated text: content, reasoning or a tool call piece. */
  private static boolean hasText(JsonObject chunk) {
    if (!chunk.has("choices") || !chunk.get("choices").isJsonArray()) {
      return false;
    }
    for (JsonElement c : chunk.getAsJsonArray("choices")) {
      JsonElement delta = c.isJsonObject() ? c.getAsJsonObject().get("delta") : null;
      if (delta == null || !delta.isJsonObject()) {
        continue;
      }
      JsonObject d = delta.getAsJsonObject();
      for (String field : List.of("content", "reasoning_content")) {
        JsonElement v = d.get(field);
        if (v != null && v.isJsonPrimitive() && !v.getAsString().isEmpty()) {
          return true;
        }
      }
      if (d.has("tool_calls")) {
        return true;
      }
    }
    return false;
  }
}

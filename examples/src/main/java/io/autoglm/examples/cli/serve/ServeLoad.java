package io.autoglm.examples.cli.serve;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Sends streamed chat completions to an OpenAI-compatible server: {@code requests} of them, started at Poisson
 * arrivals of {@code requestRate} per second (all at once when infinite), at most {@code maxConcurrency} in flight
 * (unbounded when 0). Every request is finished before {@link #run} returns; a request that fails counts as an error
 * with its kind: {@code http_NNN} (a status other than 200), {@code stream_error} (an error chunk), {@code no_done}
 * (the stream ended without {@code [DONE]}), {@code bad_chunk} (a chunk that is not JSON), {@code io} (a connection
 * failure or the per-request timeout).
 */
public final class ServeLoad {
  /** How to load the server. */
  public record Settings(URI baseUrl, String model, String apiKey, int requests, double requestRate,
      int maxConcurrency, double temperature, boolean ignoreEos, Duration timeout, long seed) {
    public Settings {
      Objects.requireNonNull(baseUrl, "baseUrl");
      if (requests < 1) {
        throw new IllegalArgumentException("--num-requests " + requests + ": expected at least 1");
      }
      if (!(requestRate > 0)) {
        throw new IllegalArgumentException("--request-rate " + requestRate + ": expected a rate > 0 (or inf)");
      }
      if (maxConcurrency < 0) {
        throw new IllegalArgumentException("--max-concurrency " + maxConcurrency + ": expected >= 0 (0: unbounded)");
      }
    }
  }

  private final Settings settings;
  private final URI uri;
  private final HttpClient http;
  private final PrintStream progress;

  /** {@code progress}: where the progress bar goes (null: none). */
  public ServeLoad(Settings settings, PrintStream progress) {
    this.settings = settings;
    String base = settings.baseUrl().toString().replaceAll("/+$", "");
    this.uri = URI.create(base.endsWith("/v1") ? base + "/chat/completions" : base + "/v1/chat/completions");
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
        .build();
    this.progress = progress;
  }

  public URI endpoint() {
    return uri;
  }

  /** Runs the load; prompts come from {@code source} in order. */
  public ServeReport run(PromptSource source) throws InterruptedException {
    int n = settings.requests();
    List<String> bodies = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      bodies.add(body(source.next()));
    }
    RequestOutcome[] outcomes = new RequestOutcome[n];
    AtomicInteger done = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    ProgressBar bar = progress == null ? null : new ProgressBar(progress, n, done, failed);
    ScheduledExecutorService ticker = bar == null ? null : Executors.newSingleThreadScheduledExecutor(daemon());
    long start = System.nanoTime();
    if (ticker != null) {
      ticker.scheduleAtFixedRate(() -> bar.draw(System.nanoTime() - start, false), 0, 200, TimeUnit.MILLISECONDS);
    }
    try {
      dispatch(bodies, outcomes, start, done, failed);
    } finally {
      if (ticker != null) {
        ticker.shutdownNow();
        ticker.awaitTermination(1, TimeUnit.SECONDS);
      }
    }
    if (bar != null) {
      bar.draw(System.nanoTime() - start, true);
    }
    long end = Arrays.stream(outcomes).mapToLong(o -> o.sentNanos() + o.e2eNanos()).max().orElse(0);
    return new ServeReport(Arrays.asList(outcomes), Math.max(1, end));
  }

  /** Starts every request at its arrival time, within the concurrency limit, and waits for all of them. */
  private void dispatch(List<String> bodies, RequestOutcome[] outcomes, long start, AtomicInteger done,
      AtomicInteger failed) throws InterruptedException {
    Semaphore slots = settings.maxConcurrency() > 0 ? new Semaphore(settings.maxConcurrency()) : null;
    ExecutorService pool = Executors.newCachedThreadPool(daemon());
    SplittableRandom arrivals = new SplittableRandom(settings.seed());
    double nextArrival = 0;
    try {
      for (int i = 0; i < bodies.size(); i++) {
        if (!Double.isInfinite(settings.requestRate())) {
          long wait = start + (long) (nextArrival * 1e9) - System.nanoTime();
          if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
          }
          nextArrival += -Math.log(1 - arrivals.nextDouble()) / settings.requestRate(); // exponential gaps
        }
        if (slots != null) {
          slots.acquire();
        }
        int index = i;
        pool.execute(() -> {
          try {
            outcomes[index] = one(bodies.get(index), start);
          } finally {
            if (outcomes[index] == null || !outcomes[index].ok()) {
              failed.incrementAndGet();
            }
            done.incrementAndGet();
            if (slots != null) {
              slots.release();
            }
          }
        });
      }
      pool.shutdown();
      pool.awaitTermination(Long.MAX_VALUE, TimeUnit.NANOSECONDS);
    } finally {
      pool.shutdownNow();
    }
  }

  private static ThreadFactory daemon() {
    return r -> {
      Thread t = new Thread(r, "bench-serve");
      t.setDaemon(true);
      return t;
    };
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

  private RequestOutcome one(String body, long runStart) {
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

  /** A one-line bar on {@code out}, redrawn in place. */
  private static final class ProgressBar {
    private final PrintStream out;
    private final int total;
    private final AtomicInteger done;
    private final AtomicInteger failed;

    ProgressBar(PrintStream out, int total, AtomicInteger done, AtomicInteger failed) {
      this.out = out;
      this.total = total;
      this.done = done;
      this.failed = failed;
    }

    void draw(long elapsedNanos, boolean last) {
      int d = done.get();
      int width = 30;
      int filled = (int) ((long) d * width / total);
      out.printf(Locale.ROOT, "\rbench-serve [%s%s] %d/%d requests, %d errors, %.1f s%s",
          "#".repeat(filled), " ".repeat(width - filled), d, total, failed.get(), elapsedNanos / 1e9,
          last ? System.lineSeparator() : "");
      out.flush();
    }
  }
}

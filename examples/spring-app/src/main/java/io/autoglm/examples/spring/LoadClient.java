package io.autoglm.examples.spring;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * A streaming load tool for an OpenAI-compatible server: N clients each send streamed chat requests back to back
 * for a fixed time, and it reports time to first token, inter-token latency (the gap between content chunks),
 * throughput and errors. JDK only, so it also runs as a single file:
 *
 * <pre>
 * java examples/spring-app/src/main/java/io/autoglm/examples/spring/LoadClient.java \
 *   --url http://localhost:8080 --clients 64 --seconds 30 --max-tokens 64
 * </pre>
 *
 * An error is a status other than 200, a stream without {@code [DONE]}, an error chunk, or an I/O failure. The run
 * is bounded: no request starts after the deadline. Exit status 1 when any request failed.
 */
public final class LoadClient {
  /** What a run measured; latencies in nanoseconds, one sample per request (TTFT) or per chunk gap (ITL). */
  public record Report(int clients, double seconds, long requests, long errors, long chunks, long[] ttftNanos,
      long[] itlNanos, List<String> errorSamples) {
    public double percentileMillis(long[] sorted, double p) {
      if (sorted.length == 0) {
        return Double.NaN;
      }
      int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "clients %d, %.1f s: %d requests, %d errors, %.1f req/s, %.1f chunks/s%n"
          + "TTFT p50 %.1f ms, p99 %.1f ms; inter-token p50 %.2f ms, p99 %.2f ms%s",
          clients, seconds, requests, errors, requests / seconds, chunks / seconds,
          percentileMillis(ttftNanos, 50), percentileMillis(ttftNanos, 99),
          percentileMillis(itlNanos, 50), percentileMillis(itlNanos, 99),
          errorSamples.isEmpty() ? "" : "%nfirst errors: " + errorSamples);
    }
  }

  private final URI uri;
  private final String body;
  private final String apiKey;
  private final HttpClient http;

  public LoadClient(String baseUrl, String model, int maxTokens, String apiKey) {
    this.uri = URI.create(baseUrl + "/v1/chat/completions");
    this.apiKey = apiKey;
    this.body = "{" + (model == null ? "" : "\"model\":\"" + model + "\",")
        + "\"stream\":true,\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"ignore_eos\":true,"
        + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story about the sea.\"}]}";
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
        .build();
  }

  /** Runs {@code clients} loops until {@code duration} has passed; every started request is finished. */
  public Report run(int clients, Duration duration) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + duration.toNanos();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    List<Future<Stats>> futures = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      futures.add(pool.submit(() -> loop(deadline)));
    }
    Stats all = new Stats();
    for (Future<Stats> f : futures) {
      try {
        all.add(f.get());
      } catch (java.util.concurrent.ExecutionException e) {
        all.errors++;
        all.sample(e.getCause().toString());
      }
    }
    pool.shutdown();
    double seconds = (System.nanoTime() - start) / 1e9;
    long[] ttft = all.ttft.stream().mapToLong(Long::longValue).sorted().toArray();
    long[] itl = all.itl.stream().mapToLong(Long::longValue).sorted().toArray();
    return new Report(clients, seconds, all.requests, all.errors, all.chunks, ttft, itl, all.errorSamples);
  }

  private Stats loop(long deadline) {
    Stats s = new Stats();
    while (System.nanoTime() < deadline) {
      s.requests++;
      try {
        one(s);
      } catch (IOException | RuntimeException e) {
        s.errors++;
        s.sample(e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return s;
      }
    }
    return s;
  }

  private void one(Stats s) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofMinutes(5));
    if (apiKey != null) {
      b.header("Authorization", "Bearer " + apiKey);
    }
    long sent = System.nanoTime();
    HttpResponse<Stream<String>> r = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
    try (Stream<String> lines = r.body()) {
      if (r.statusCode() != 200) {
        s.errors++;
        s.sample("HTTP " + r.statusCode() + ": " + lines.limit(5).reduce("", String::concat));
        return;
      }
      long last = -1;
      boolean done = false;
      for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
        String line = it.next();
        if (!line.startsWith("data:")) {
          continue;
        }
        String data = line.substring(5).trim();
        if (data.equals("[DONE]")) {
          done = true;
          break;
        }
        if (data.startsWith("{\"error\"")) {
          s.errors++;
          s.sample(data);
          return;
        }
        if (data.contains("\"delta\":{\"content\":")) {
          long now = System.nanoTime();
          s.chunks++;
          if (last < 0) {
            s.ttft.add(now - sent);
          } else {
            s.itl.add(now - last);
          }
          last = now;
        }
      }
      if (!done) {
        s.errors++;
        s.sample("stream ended without [DONE]");
      }
    }
  }

  /** One client's counts; merged after the run. */
  private static final class Stats {
    long requests;
    long errors;
    long chunks;
    final List<Long> ttft = new ArrayList<>();
    final List<Long> itl = new ArrayList<>();
    final List<String> errorSamples = Collections.synchronizedList(new ArrayList<>());

    void sample(String error) {
      if (errorSamples.size() < 5) {
        errorSamples.add(error);
      }
    }

    void add(Stats o) {
      requests += o.requests;
      errors += o.errors;
      chunks += o.chunks;
      ttft.addAll(o.ttft);
      itl.addAll(o.itl);
      o.errorSamples.forEach(this::sample);
    }
  }

  public static void main(String[] args) throws InterruptedException {
    List<String> a = Arrays.asList(args);
    String url = arg(a, "--url", "http://localhost:8080");
    URI target = URI.create(url);
    if (!List.of("localhost", "127.0.0.1", "[::1]").contains(target.getHost()) && !a.contains("--any-host")) {
      throw new IllegalArgumentException("--url " + url + ": load goes to loopback only (add --any-host to allow)");
    }
    int clients = Integer.parseInt(arg(a, "--clients", "64"));
    int seconds = Integer.parseInt(arg(a, "--seconds", "30"));
    int maxTokens = Integer.parseInt(arg(a, "--max-tokens", "64"));
    LoadClient client = new LoadClient(url, arg(a, "--model", null), maxTokens, arg(a, "--api-key", null));
    Report r = client.run(clients, Duration.ofSeconds(seconds));
    System.out.println(r);
    System.exit(r.errors() == 0 ? 0 : 1);
  }

  private static String arg(List<String> args, String name, String fallback) {
    int i = args.indexOf(name);
    return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : fallback;
  }
}

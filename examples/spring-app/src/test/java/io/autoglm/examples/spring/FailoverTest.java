package io.autoglm.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover (issue 23, acceptance 4): two sample-app instances, each a JVM of its own, behind a real HAProxy on
 * loopback (health checks on the readiness probe; see {@link HaproxyServer#config}). Six clients send streamed and
 * non-streamed chat requests back to back through it; once both instances have served and a stream on instance
 * {@code a} is at most half-way, {@code a} is killed with SIGKILL: a crash, with no graceful drain (stopping its
 * Spring context would close streams cleanly and test the drain, not the failure). Then: HAProxy marks {@code a}
 * down; every request sent after the kill succeeds on {@code b}; the streams cut on {@code a} fail; every failure is
 * a request in flight on {@code a} at the kill (sent before it, ended after it, served by {@code a} as HAProxy's
 * {@code X-Served-By} says) and ended within {@link #FAILURE_BOUND} of it; every client call ended (each has a
 * timeout, and the test asserts that all of them returned).
 */
class FailoverTest {
  private static final int CLIENTS = 6;
  private static final int STREAM_TOKENS = 160;
  private static final int PLAIN_TOKENS = 80;
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(90);
  /** A request cut by the kill must have failed by then: HAProxy closes the client's side as the server's closes. */
  private static final Duration FAILURE_BOUND = Duration.ofSeconds(10);
  private static final int AFTER_KILL = 12;

  @TempDir static Path dir;
  static AppProcess a;
  static AppProcess b;
  static HaproxyServer haproxy;

  @BeforeAll
  static void start() throws Exception {
    Optional<Path> binary = HaproxyServer.binary();
    if (binary.isEmpty() && System.getenv("CI") != null) {
      throw new AssertionError("no haproxy binary: .ci/run installs Debian's haproxy package");
    }
    Assumptions.assumeTrue(binary.isPresent(), "no haproxy on the PATH (apt-get install haproxy)");
    Path model = SampleApp.model(dir);
    CompletableFuture<AppProcess> first = CompletableFuture.supplyAsync(() -> startApp(model, "a"));
    b = startApp(model, "b");
    a = first.join();
    haproxy = new HaproxyServer(binary.get(), dir, List.of(new HaproxyServer.Backend("a", a.port, a.managementPort),
        new HaproxyServer.Backend("b", b.port, b.managementPort)));
    PrometheusServer.await("haproxy sees both instances UP", Duration.ofSeconds(30),
        () -> haproxy.serverStatus().equals(java.util.Map.of("a", "UP", "b", "UP")));
  }

  private static AppProcess startApp(Path model, String name) {
    try {
      return AppProcess.start(dir.resolve(name), model);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @AfterAll
  static void stop() throws InterruptedException {
    for (AutoCloseable c : new AutoCloseable[] {haproxy, a, b}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        System.out.println("closing " + c + ": " + e);
      }
    }
  }

  /** One client call; times from System.nanoTime. */
  static final class Call {
    final boolean streamed;
    final long sent = System.nanoTime();
    volatile String backend;
    volatile int chunks;
    volatile long ended = -1;
    volatile String error;

    Call(boolean streamed) {
      this.streamed = streamed;
    }

    boolean ok() {
      return ended >= 0 && error == null;
    }

    @Override
    public String toString() {
      return (streamed ? "stream" : "plain") + " via " + backend + " after " + chunks + " chunks: "
          + (error == null ? "ok" : error);
    }
  }

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final Set<Call> open = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean stopping = new AtomicBoolean();
  /** Closes a response body still open at its call's deadline: a hung call becomes a failed one. */
  private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();

  @Test
  void aKilledInstancesInFlightRequestsFailAndEverythingElseGoesToTheSurvivor() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    List<Future<?>> clients = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      int id = c;
      clients.add(pool.submit(() -> client(id)));
    }
    long t0 = System.nanoTime();
    PrometheusServer.await("both instances serving and a stream on a at most half-way", Duration.ofMinutes(3),
        () -> served("a") > 0 && served("b") > 0 && !cutCandidates().isEmpty());
    List<Call> cut = cutCandidates();
    long killStart = System.nanoTime();
    a.kill();
    long killed = System.nanoTime();
    PrometheusServer.await("haproxy marks a DOWN", Duration.ofSeconds(10),
        () -> "DOWN".equals(haproxy.serverStatus().get("a")));
    PrometheusServer.await(AFTER_KILL + " calls sent after the kill and ended", Duration.ofMinutes(3),
        () -> calls.stream().filter(c -> c.sent > killed && c.ended >= 0).count() >= AFTER_KILL);
    stopping.set(true);
    pool.shutdown();
    boolean allReturned = pool.awaitTermination(CALL_TIMEOUT.toSeconds() + 30, TimeUnit.SECONDS);
    watchdog.shutdownNow();
    assertThat(allReturned).as("every client call returned; still open: " + open).isTrue();
    for (Future<?> f : clients) {
      f.get(); // no client loop threw
    }
    assertThat(calls).allMatch(c -> c.ended >= 0);

    List<Call> failures = calls.stream().filter(c -> !c.ok()).toList();
    List<Call> inFlightOnA = calls.stream()
        .filter(c -> c.sent < killed && c.ended > killStart && "a".equals(c.backend)).toList();
    List<Call> after = calls.stream().filter(c -> c.sent > killed).toList();
    System.out.printf("failover: load %.1f s before the kill, %.1f s after it%n", (killStart - t0) / 1e9,
        (System.nanoTime() - killed) / 1e9);
    System.out.printf("failover: %d calls, %d failed, %d in flight on a at the kill (%d streams cut at <= %d"
            + " chunks), %d sent after it; failures: %s%n", calls.size(), failures.size(), inFlightOnA.size(),
        cut.size(), STREAM_TOKENS / 2, after.size(), failures.stream().map(Call::toString)
            .collect(Collectors.groupingBy(s -> s.replaceAll("\\d+ chunks", "N chunks"), Collectors.counting())));

    assertThat(cut).as("streams on a at most half-way at the kill").isNotEmpty()
        .allSatisfy(c -> assertThat(c.ok()).as(c.toString()).isFalse());
    assertThat(inFlightOnA).containsAll(failures);
    assertThat(failures.size()).isLessThanOrEqualTo(inFlightOnA.size());
    for (Call f : failures) {
      assertThat(f.ended - killed).as("%s ended %d ms after the kill", f, (f.ended - killed) / 1_000_000)
          .isLessThan(FAILURE_BOUND.toNanos());
    }
    assertThat(after).allSatisfy(c -> assertThat(c.ok() && "b".equals(c.backend)).as(c.toString()).isTrue());
    assertThat(after).anyMatch(c -> c.streamed).anyMatch(c -> !c.streamed);
    assertThat(calls.stream().filter(c -> c.ended < killStart)).as("calls that ended before the kill")
        .isNotEmpty().allMatch(Call::ok);
    assertThat(b.readinessStatus()).isEqualTo(200);
    assertThat(haproxy.serverStatus()).containsEntry("b", "UP");
  }

  private long served(String backend) {
    return calls.stream().filter(c -> c.ok() && backend.equals(c.backend)).count();
  }

  /** Open streams on a with at least one chunk and at most half of theirs: a kill now cuts them. */
  private List<Call> cutCandidates() {
    return open.stream().filter(c -> c.streamed && "a".equals(c.backend) && c.chunks >= 1
        && c.chunks <= STREAM_TOKENS / 2).toList();
  }

  /** Calls back to back until the test stops it, alternating streamed and non-streamed ones. */
  private void client(int id) {
    for (int n = id; !stopping.get(); n++) {
      Call call = new Call(n % 2 == 0);
      calls.add(call);
      open.add(call);
      try {
        exchange(call);
      } catch (IOException | RuntimeException e) {
        call.error = e.toString();
      } catch (InterruptedException e) {
        call.error = e.toString();
        Thread.currentThread().interrupt();
        return;
      } finally {
        call.ended = System.nanoTime();
        open.remove(call);
      }
    }
  }

  private void exchange(Call call) throws IOException, InterruptedException {
    int tokens = call.streamed ? STREAM_TOKENS : PLAIN_TOKENS;
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story about the sea.\"}],"
        + "\"max_tokens\":" + tokens + ",\"temperature\":0,\"ignore_eos\":true"
        + (call.streamed ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(haproxy.url()
            + "/v1/chat/completions")).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(CALL_TIMEOUT).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    call.backend = r.headers().firstValue("X-Served-By").orElse(null);
    long left = CALL_TIMEOUT.toNanos() - (System.nanoTime() - call.sent);
    ScheduledFuture<?> guard = watchdog.schedule(() -> {
      call.error = "timed out after " + CALL_TIMEOUT;
      try {
        r.body().close();
      } catch (IOException ignored) {
        // closing is all that matters
      }
    }, Math.max(0, left), TimeUnit.NANOSECONDS);
    try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      if (r.statusCode() != 200) {
        call.error = "HTTP " + r.statusCode() + " " + in.lines().limit(3).collect(Collectors.joining(" "));
        return;
      }
      int completion = call.streamed ? readStream(call, in) : JsonParser.parseString(in.lines()
          .collect(Collectors.joining("\n"))).getAsJsonObject().getAsJsonObject("usage")
          .get("completion_tokens").getAsInt();
      if (call.error == null && completion != tokens) {
        call.error = "completion_tokens " + completion + ", expected " + tokens;
      }
    } finally {
      guard.cancel(false);
    }
  }

  /** Reads an SSE stream to [DONE]: the usage chunk's completion tokens, or -1 with the call's error set. */
  private static int readStream(Call call, BufferedReader in) throws IOException {
    int completion = -1;
    String line;
    while ((line = in.readLine()) != null) {
      if (!line.startsWith("data:")) {
        continue;
      }
      String data = line.substring(5).trim();
      if (data.equals("[DONE]")) {
        return completion;
      }
      call.chunks++;
      JsonObject chunk = JsonParser.parseString(data).getAsJsonObject();
      if (chunk.has("error")) {
        call.error = "error chunk " + data;
        return -1;
      }
      if (chunk.has("usage") && chunk.get("usage").isJsonObject()) {
        completion = chunk.getAsJsonObject("usage").get("completion_tokens").getAsInt();
      }
    }
    call.error = "stream ended without [DONE] after " + call.chunks + " chunks";
    return -1;
  }
}

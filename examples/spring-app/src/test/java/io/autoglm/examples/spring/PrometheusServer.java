package io.autoglm.examples.spring;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A real Prometheus (the Debian package's binary, or {@code -Dautoglm.prometheus=PATH}) on a free loopback port,
 * with the given configuration and its own data folder; stopped by {@link #close}.
 */
final class PrometheusServer implements AutoCloseable {
  private final Process process;
  private final Path log;
  final int port;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** The binary: {@code -Dautoglm.prometheus}, else {@code prometheus} on the PATH. */
  static Optional<Path> binary() {
    String configured = System.getProperty("autoglm.prometheus");
    if (configured != null) {
      return Optional.of(Path.of(configured)).filter(Files::isExecutable);
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(dir, "prometheus");
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  PrometheusServer(Path binary, Path dir, String config) throws IOException, InterruptedException {
    Path file = dir.resolve("prometheus.yml");
    Files.writeString(file, config);
    this.log = dir.resolve("prometheus.log");
    this.port = freePort();
    process = new ProcessBuilder(binary.toString(), "--config.file=" + file,
        "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port,
        "--log.level=warn").redirectErrorStream(true).redirectOutput(log.toFile()).start();
    await("Prometheus ready on port " + port, Duration.ofSeconds(60), () -> {
      try {
        return get("/-/ready").statusCode() == 200;
      } catch (UncheckedIOException e) {
        return false;
      }
    });
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  HttpResponse<String> get(String pathAndQuery) {
    if (!process.isAlive()) {
      throw new IllegalStateException("prometheus exited " + process.exitValue() + ": " + logText());
    }
    try {
      return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** An instant query through the HTTP API; fails unless Prometheus answers {@code status: success}. */
  JsonObject query(String promql) {
    HttpResponse<String> r = get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    JsonObject j = JsonParser.parseString(r.body()).getAsJsonObject();
    if (r.statusCode() != 200 || !"success".equals(j.get("status").getAsString())) {
      throw new AssertionError("query " + promql + ": HTTP " + r.statusCode() + " " + r.body());
    }
    return j.getAsJsonObject("data");
  }

  JsonObject api(String path) {
    return JsonParser.parseString(get(path).body()).getAsJsonObject().getAsJsonObject("data");
  }

  String logText() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  static void await(String what, Duration limit, BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + limit + " waiting for " + what);
      }
      Thread.sleep(250);
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}

package io.autoglm.examples.spring;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (the Debian package's binary, or {@code -Dautoglm.haproxy=PATH}) on free loopback ports, balancing
 * {@code /} over the given backends with HTTP health checks on their readiness probes; stopped by {@link #close}.
 * Every response it sends, its own errors included, names the backend server in {@code X-Served-By} (the server's
 * name, {@code <NOSRV>} when none was chosen).
 */
final class HaproxyServer implements AutoCloseable {
  /** One backend: a name, the API's port, the port of its readiness probe. */
  record Backend(String name, int port, int checkPort) {}

  private final Process process;
  private final Path log;
  final int port;
  final int statsPort;
  final String config;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static Optional<Path> binary() {
    String configured = System.getProperty("autoglm.haproxy");
    if (configured != null) {
      return Optional.of(Path.of(configured)).filter(Files::isExecutable);
    }
    for (String dir : (System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin")
        .split(File.pathSeparator)) {
      Path p = Path.of(dir, "haproxy");
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  HaproxyServer(Path binary, Path dir, List<Backend> backends) throws IOException, InterruptedException {
    this.port = freePort();
    this.statsPort = freePort();
    this.config = config(port, statsPort, backends);
    Path file = dir.resolve("haproxy.cfg");
    Files.writeString(file, config);
    this.log = dir.resolve("haproxy.log");
    Process check = new ProcessBuilder(binary.toString(), "-c", "-f", file.toString()).redirectErrorStream(true)
        .start();
    String checked = new String(check.getInputStream().readAllBytes());
    if (check.waitFor() != 0) {
      throw new AssertionError("haproxy -c refused the configuration:\n" + checked + "\n" + config);
    }
    process = new ProcessBuilder(binary.toString(), "-db", "-f", file.toString()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    PrometheusServer.await("haproxy on port " + statsPort, Duration.ofSeconds(30), () -> {
      try {
        return stats("GET").statusCode() == 200;
      } catch (UncheckedIOException e) {
        return false;
      }
    });
  }

  /**
   * Least-connections balancing (generations are long and uneven). A connection that fails to open (the server is
   * gone: refused) is retried on another server: the request never reached a server, so the retry is safe for a
   * POST too; nothing else is retried, since a request that reached a server may have run there. {@code http-reuse
   * never}: every request opens its own server connection, so none is sent on an idle one that a dead server left
   * behind. Health: {@code GET /actuator/health/readiness} on the management port every 250 ms, down after 1
   * failure. Timeouts: generous for streams; a stream's server closing mid-response closes the client's at once.
   */
  static String config(int port, int statsPort, List<Backend> backends) {
    StringBuilder servers = new StringBuilder();
    for (Backend b : backends) {
      servers.append("  server %s 127.0.0.1:%d check port %d%n".formatted(b.name(), b.port(), b.checkPort()));
    }
    return """
        global
          maxconn 256
        defaults
          mode http
          timeout connect 2s
          timeout client 120s
          timeout server 120s
          timeout check 2s
          retries 2
          retry-on conn-failure
          option redispatch 1
          http-reuse never
        frontend api
          bind 127.0.0.1:%d
          default_backend glm
          http-after-response set-header X-Served-By %%s
        backend glm
          balance leastconn
          option httpchk
          http-check send meth GET uri /actuator/health/readiness
          http-check expect status 200
          default-server inter 250ms fastinter 250ms downinter 250ms fall 1 rise 2
        %s
        frontend stats
          bind 127.0.0.1:%d
          stats enable
          stats uri /stats
        """.formatted(port, servers, statsPort);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  private HttpResponse<String> stats(String method) {
    if (!process.isAlive()) {
      throw new IllegalStateException("haproxy exited " + process.exitValue() + ": " + logText());
    }
    try {
      return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + statsPort + "/stats;csv"))
          .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The {@code status} column of the backend's servers in HAProxy's CSV statistics (UP, DOWN, ...). */
  Map<String, String> serverStatus() {
    String[] lines = stats("GET").body().split("\n");
    List<String> header = List.of(lines[0].replaceFirst("^# ", "").split(","));
    int px = header.indexOf("pxname");
    int sv = header.indexOf("svname");
    int status = header.indexOf("status");
    Map<String, String> out = new HashMap<>();
    for (int i = 1; i < lines.length; i++) {
      String[] f = lines[i].split(",", -1);
      if (f.length > status && f[px].equals("glm") && !f[sv].equals("BACKEND")) {
        out.put(f[sv], f[status]);
      }
    }
    return out;
  }

  String logText() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}

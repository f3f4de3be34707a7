package io.autoglm.examples.spring;

import io.autoglm.spring.AutoGLMProvider;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The sample app in a JVM of its own (this test JVM's java and classpath), on free ports, so that a test can kill it
 * as a crash does ({@link #kill}: SIGKILL, the kernel closes its sockets) rather than stop it. {@link #main} is
 * {@link GlmServerApplication} plus a file with the two ports it bound, written once the model has loaded.
 */
final class AppProcess implements AutoCloseable {
  private final Process process;
  private final Path log;
  final int port;
  final int managementPort;

  private AppProcess(Process process, Path log, int port, int managementPort) {
    this.process = process;
    this.log = log;
    this.port = port;
    this.managementPort = managementPort;
  }

  /**
   * Starts the app in {@code dir} (its log, its port file) on {@code model} with the test's tokenizer and
   * {@code args}, and waits until its readiness probe answers 200.
   */
  static AppProcess start(Path dir, Path model, String... args) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path ports = dir.resolve("ports");
    Path argFile = dir.resolve("java.args");
    // the classpath through an argument file: one argument is limited to 128 KiB on Linux
    Files.writeString(argFile, "-cp \"" + System.getProperty("java.class.path").replace("\\", "\\\\") + "\"\n");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx768m", "-XX:+UseSerialGC", "@" + argFile, AppProcess.class.getName(), ports.toString(),
        "--server.port=0", "--management.server.port=0", "--spring.main.banner-mode=off",
        "--autoglm.model-path=" + model,
        "--autoglm.tokenizer-path=" + SampleApp.fixtures().resolve("tokenizers/glm-4-9b-chat-hf"),
        "--autoglm.kv-blocks=1024", "--management.endpoint.health.probes.enabled=true"));
    cmd.addAll(List.of(args));
    Path log = dir.resolve("app.log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (!Files.exists(ports)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError("the app in " + dir + " did not start (" + (p.isAlive() ? "timed out" : "exit "
            + p.exitValue()) + "): " + tail(log));
      }
      Thread.sleep(100);
    }
    String[] two = Files.readString(ports).trim().split(" ");
    AppProcess app = new AppProcess(p, log, Integer.parseInt(two[0]), Integer.parseInt(two[1]));
    PrometheusServer.await("readiness of the app on port " + app.port, Duration.ofSeconds(60),
        () -> app.readinessStatus() == 200);
    return app;
  }

  /** The status of {@code GET /actuator/health/readiness}, -1 when it does not answer. */
  int readinessStatus() {
    try {
      return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort
          + "/actuator/health/readiness")).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** SIGKILL, and waits until the process is gone (and with it every socket it had open). */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new AssertionError("the app on port " + port + " survived SIGKILL for 30 s");
    }
  }

  boolean alive() {
    return process.isAlive();
  }

  String logTail() {
    return tail(log);
  }

  private static String tail(Path log) {
    try {
      String s = Files.readString(log, StandardCharsets.UTF_8);
      return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** SIGTERM (Spring's graceful shutdown), then SIGKILL after 30 s. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** {@code PORTS_FILE ARGS...}: runs the sample app with ARGS; writes "PORT MANAGEMENT_PORT" once it is ready. */
  public static void main(String[] args) throws Exception {
    Path ports = Path.of(args[0]);
    String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
    ConfigurableApplicationContext ctx = new SpringApplicationBuilder(GlmServerApplication.class).run(rest);
    ctx.getBean(AutoGLMProvider.class).await(Duration.ofMinutes(3));
    var env = ctx.getEnvironment();
    Path tmp = ports.resolveSibling(ports.getFileName() + ".tmp");
    Files.writeString(tmp, env.getRequiredProperty("local.server.port") + " "
        + env.getRequiredProperty("local.management.port"));
    Files.move(tmp, ports, StandardCopyOption.ATOMIC_MOVE);
  }
}

package io.autoglm.examples.spring;

import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.spring.AutoGLMProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The sample app as shipped (its application.yml) started on a free port with extra properties and a small random
 * GLM-4-vocabulary checkpoint, as GlmServerApplicationTest runs it; for tests that need several instances or
 * their own properties per instance.
 */
final class SampleApp implements AutoCloseable {
  private final ConfigurableApplicationContext context;
  final int port;
  /** The actuator's port: its own when management.server.port is set, else the API's. */
  final int managementPort;
  private final String apiKey;

  private SampleApp(ConfigurableApplicationContext context, String apiKey) {
    this.context = context;
    this.apiKey = apiKey;
    this.port = context.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
    this.managementPort = context.getEnvironment().getProperty("local.management.port", Integer.class, port);
  }

  /** A 2-layer random model in {@code dir} (written once per folder). */
  static Path model(Path dir) {
    Path model = dir.resolve("glm-random");
    if (!Files.isDirectory(model)) {
      RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
          "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16", "max_position_embeddings",
          "256"), 1L << 30, 7).write(model, s -> {});
    }
    return model;
  }

  static Path fixtures() {
    return GlmServerApplicationTest.fixtures();
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("autoglm.repoRoot", "../..")).toAbsolutePath().normalize();
  }

  /** Starts the app on {@code model} with {@code properties} over the defaults and waits for the model. */
  static SampleApp start(Path model, Map<String, Object> properties) {
    return start(model, properties, new String[0]);
  }

  /**
   * As {@link #start(Path, Map)}, with command-line {@code args}, which (unlike {@code properties}, Spring's
   * default properties) win over configuration files.
   */
  static SampleApp start(Path model, Map<String, Object> properties, String... args) {
    Map<String, Object> p = new HashMap<>();
    p.put("server.port", "0");
    p.put("autoglm.model-path", model.toString());
    p.put("autoglm.tokenizer-path", fixtures().resolve("tokenizers/glm-4-9b-chat-hf").toString());
    p.put("autoglm.kv-blocks", "1024");
    p.put("management.endpoint.health.probes.enabled", "true");
    p.putAll(properties);
    ConfigurableApplicationContext ctx = new SpringApplicationBuilder(GlmServerApplication.class).properties(p)
        .run(args);
    SampleApp app = new SampleApp(ctx, (String) properties.get("autoglm.api-keys"));
    ctx.getBean(AutoGLMProvider.class).await(Duration.ofMinutes(2));
    return app;
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  /** GET {@code path} (with the app's API key, when it has one): status and body; actuator paths on its port. */
  HttpResponse<String> get(String path) {
    String base = path.startsWith("/actuator") ? "http://127.0.0.1:" + managementPort : url();
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
    if (apiKey != null) {
      b.header("Authorization", "Bearer " + apiKey.split(",")[0]);
    }
    try {
      return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The sum over every series of {@code metric} in the Prometheus scrape (0 when absent). */
  double scrapeSum(String metric) {
    String body = get("/actuator/prometheus").body();
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(metric) + "(?:\\{[^}]*})? ([0-9.eE+-]+|NaN)$").matcher(body);
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return sum;
  }

  @Override
  public void close() {
    context.close();
  }
}

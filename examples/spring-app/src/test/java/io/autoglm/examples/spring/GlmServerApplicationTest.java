package io.autoglm.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.spring.AutoGLMProvider;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The sample app as shipped (application.yml, Prometheus) on a random port with a random GLM-4-vocabulary model:
 * a short run of the load tool with 64 streaming clients has no errors, and the Prometheus scrape has the engine's
 * meters. The 30 s run in docs/benchmarks.md uses the same tool.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class GlmServerApplicationTest {
  @TempDir static Path dir;

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    writeModel(dir, registry);
  }

  /** A random 2-layer GLM-4-vocabulary checkpoint under {@code dir}, served with the real tokenizer. */
  static void writeModel(Path dir, DynamicPropertyRegistry registry) {
    Path model = dir.resolve("glm-random");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
        "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16", "max_position_embeddings", "256"),
        1L << 30, 7).write(model, s -> {});
    registry.add("autoglm.model-path", model::toString);
    registry.add("autoglm.tokenizer-path", () -> fixtures().resolve("tokenizers/glm-4-9b-chat-hf").toString());
    registry.add("autoglm.kv-blocks", () -> "1024");
  }

  static Path fixtures() {
    Path p = Path.of(System.getProperty("autoglm.fixtures", "../../../shared/fixtures"));
    return (Files.isDirectory(p) ? p : Path.of("../../../shared/fixtures")).toAbsolutePath().normalize();
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;

  @Test
  void sixtyFourStreamingClientsWithoutErrorsAndAPrometheusScrape() throws Exception {
    provider.await(Duration.ofMinutes(2));
    double[] base = {scrapeValue(scrape(), "vllm:time_to_first_token_seconds_count"),
        scrapeValue(scrape(), "vllm:inter_token_latency_seconds_count")};
    // Scrape while the load runs: the autoscaler's gauges must show it.
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    List<double[]> during = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread scraper = new Thread(() -> {
      while (!done.get()) {
        try {
          String body = scrape();
          during.add(new double[] {scrapeValue(body, "vllm:num_requests_running"),
              scrapeValue(body, "vllm:num_requests_waiting"), scrapeValue(body, "vllm:kv_cache_usage_perc")});
          Thread.sleep(100);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
    });
    scraper.start();
    LoadClient.Report r;
    try {
      r = new LoadClient("http://localhost:" + port, null, 16, null).run(64, Duration.ofSeconds(5));
    } finally {
      done.set(true);
      scraper.join();
    }
    System.out.println(r);
    assertThat(r.errors()).as(r.errorSamples().toString()).isZero();
    assertThat(r.requests()).isGreaterThanOrEqualTo(64);
    assertThat(r.ttftNanos()).hasSize((int) r.requests());

    String body = scrape();
    assertThat(body).contains("gen_ai_server_time_to_first_token_seconds_count",
        "gen_ai_client_token_usage", "autoglm_requests_running", "autoglm_kv_cache_usage");
    // vLLM names, with values checked against the load client's own counts: one first token per request, and
    // (ignore_eos, 16 tokens each) 15 gaps between tokens per request.
    assertThat(scrapeValue(body, "vllm:time_to_first_token_seconds_count") - base[0]).isEqualTo(r.requests());
    assertThat(scrapeValue(body, "vllm:inter_token_latency_seconds_count") - base[1]).isEqualTo(15.0 * r.requests());
    assertThat(body).contains("vllm:time_to_first_token_seconds_bucket{", "vllm:inter_token_latency_seconds_bucket{");
    assertThat(scrapeValue(body, "vllm:num_preemptions_total"))
        .isEqualTo((double) provider.get().orElseThrow().stats().preemptions());
    // Every admission looks its prompt up: with no preemption, the queried tokens are the prompt tokens of the
    // finished requests (counted from their usage).
    double queries = scrapeValue(body, "vllm:prefix_cache_queries_total");
    double prompts = scrapeValue(body, "autoglm_prompt_tokens_total", "gen_ai_request_model");
    if (provider.get().orElseThrow().stats().preemptions() == 0) {
      assertThat(queries).isEqualTo(prompts);
    } else {
      assertThat(queries).isGreaterThan(prompts); // a preempted request is looked up again when readmitted
    }
    assertThat(scrapeValue(body, "vllm:prefix_cache_hits_total")).isBetween(0.0, queries);
    // During the load: up to the 64 clients running at once, the KV cache in use; idle after it.
    assertThat(during).isNotEmpty();
    assertThat(during.stream().mapToDouble(d -> d[0]).max().orElseThrow()).isBetween(1.0, 64.0);
    assertThat(during.stream().mapToDouble(d -> d[2]).max().orElseThrow()).isGreaterThan(0).isLessThanOrEqualTo(1);
    assertThat(during).allSatisfy(d -> assertThat(d[0] + d[1]).isLessThanOrEqualTo(64));
    // The gauges are set by the engine thread after each step's events are handed on, so the last client can read
    // its [DONE] (and this scrape run) a moment before the step that emptied the engine is reported: poll for idle.
    String idle = body;
    for (long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        (scrapeValue(idle, "vllm:num_requests_running") != 0 || scrapeValue(idle, "vllm:num_requests_waiting") != 0)
            && System.nanoTime() < deadline; ) {
      Thread.sleep(20);
      idle = scrape();
    }
    assertThat(scrapeValue(idle, "vllm:num_requests_running")).isZero();
    assertThat(scrapeValue(idle, "vllm:num_requests_waiting")).isZero();
  }

  private String scrape() throws Exception {
    HttpResponse<String> scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + port + "/actuator/prometheus")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(scrape.statusCode()).isEqualTo(200);
    return scrape.body();
  }

  /** The value of the series {@code name{...model_name="glm-random"...}} in a Prometheus text scrape. */
  static double scrapeValue(String body, String name) {
    return scrapeValue(body, name, "model_name");
  }

  static double scrapeValue(String body, String name, String modelLabel) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(name)
        + "\\{[^}]*" + modelLabel + "=\"glm-random\"[^}]*\\} (\\S+)$").matcher(body);
    if (!m.find()) {
      throw new AssertionError("no series " + name + " for glm-random in the scrape: " + body.lines()
          .filter(l -> l.startsWith("vllm")).limit(40).toList());
    }
    return Double.parseDouble(m.group(1));
  }
}

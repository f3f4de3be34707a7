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
    LoadClient.Report r = new LoadClient("http://localhost:" + port, null, 16, null).run(64, Duration.ofSeconds(5));
    System.out.println(r);
    assertThat(r.errors()).as(r.errorSamples().toString()).isZero();
    assertThat(r.requests()).isGreaterThanOrEqualTo(64);
    assertThat(r.ttftNanos()).hasSize((int) r.requests());

    HttpResponse<String> scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + port + "/actuator/prometheus")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(scrape.statusCode()).isEqualTo(200);
    assertThat(scrape.body()).contains("gen_ai_server_time_to_first_token_seconds_count",
        "gen_ai_client_token_usage", "autoglm_requests_running", "autoglm_kv_cache_usage");
  }
}

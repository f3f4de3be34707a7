package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.autoglm.ModelLoadException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * While the model loads the server is up but OUT_OF_SERVICE (readiness too) and the API answers 503 with
 * Retry-After; once loading fails, health is DOWN and the API says why. The loader here blocks on a latch, then
 * fails, so no model is needed.
 */
@SpringBootTest(classes = {TestApplication.class, LoadingStateTest.BlockedLoader.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "management.endpoint.health.show-details=always",
      "management.endpoint.health.probes.enabled=true",
    })
class LoadingStateTest {
  static final CountDownLatch RELEASE = new CountDownLatch(1);

  /** A user's provider bean (it wins over the starter's) whose model never loads. */
  @TestConfiguration(proxyBeanMethods = false)
  static class BlockedLoader {
    @Bean
    AutoGLMProvider autoGLMProvider() {
      return AutoGLMProvider.loadInBackground(() -> {
        try {
          RELEASE.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        throw new ModelLoadException("config.json: no such file");
      }, Duration.ofSeconds(1));
    }
  }

  @LocalServerPort int port;
  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void outOfServiceAnd503WhileLoadingThenDownWhenLoadingFailed() throws Exception {
    HttpResponse<String> health = get("/actuator/health");
    assertThat(health.statusCode()).isEqualTo(503);
    assertThat(json(health).at("/components/autoglm/status").asString()).isEqualTo("OUT_OF_SERVICE");
    HttpResponse<String> readiness = get("/actuator/health/readiness");
    assertThat(readiness.statusCode()).isEqualTo(503);
    assertThat(json(readiness).at("/status").asString()).isEqualTo("OUT_OF_SERVICE");
    assertThat(get("/actuator/health/liveness").statusCode()).isEqualTo(200);

    HttpResponse<String> chat = post("/v1/chat/completions",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(chat.statusCode()).isEqualTo(503);
    assertThat(chat.headers().firstValue("Retry-After")).contains("5");
    assertThat(chat.headers().firstValue("Content-Type")).get().asString().startsWith("application/json");
    JsonNode error = json(chat).get("error");
    assertThat(error.propertyNames()).containsExactly("message", "type", "param", "code");
    assertThat(error.get("code").asString()).isEqualTo("model_loading");
    assertThat(error.get("type").asString()).isEqualTo("server_error");
    assertThat(get("/v1/models").statusCode()).isEqualTo(503);

    RELEASE.countDown();
    // 30 s: a hang guard (the failed load is reported on the loader's thread, then seen by the next probe).
    await().atMost(Duration.ofSeconds(30)).until(() -> get("/actuator/health").body().contains("\"DOWN\""));
    JsonNode down = json(get("/actuator/health"));
    assertThat(down.at("/components/autoglm/status").asString()).isEqualTo("DOWN");
    assertThat(down.at("/components/autoglm/details/error").asString()).contains("config.json: no such file");
    HttpResponse<String> failed = post("/v1/completions", "{\"prompt\":\"hi\"}");
    assertThat(failed.statusCode()).isEqualTo(503);
    assertThat(json(failed).at("/error/code").asString()).isEqualTo("model_load_failed");
    assertThat(json(failed).at("/error/message").asString()).contains("config.json: no such file");
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) {
    return JsonMapper.shared().readTree(r.body());
  }
}

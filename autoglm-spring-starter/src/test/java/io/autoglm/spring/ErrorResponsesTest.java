package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.autoglm.AutoGLM;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every error status of the API, through the OpenAI client (no retries) and raw HTTP: OpenAI's error shape
 * {@code {"error": {"message", "type", "param", "code"}}}, JSON content type, and the headers that go with it.
 * The server has API keys, 3 requests per minute per key, one running and one waiting request at most.
 */
@SpringBootTest(classes = TestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "autoglm.api-keys=key-a,key-b,key-c",
      "autoglm.rate-limit.requests-per-minute=3",
      "autoglm.max-running-sequences=1",
      "autoglm.max-waiting-requests=1",
    })
class ErrorResponsesTest {
  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  @Autowired MeterRegistry meters;

  @BeforeEach
  void ready() {
    provider.await(Duration.ofMinutes(2));
  }

  private final List<OpenAIClient> clients = new java.util.ArrayList<>();

  private OpenAIClient client(String key) {
    OpenAIClient c = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey(key)
        .maxRetries(0).build();
    clients.add(c);
    return c;
  }

  @AfterEach
  void closeClients() {
    clients.forEach(OpenAIClient::close);
    clients.clear();
  }

  private static ChatCompletionCreateParams chat(Consumer<ChatCompletionCreateParams.Builder> more) {
    ChatCompletionCreateParams.Builder b = ChatCompletionCreateParams.builder().model(TestModel.ID)
        .addUserMessage("Hello").maxCompletionTokens(1).temperature(0.0);
    more.accept(b);
    return b.build();
  }

  /** The client parsed our body into type, param and code; the raw response is JSON with all four fields. */
  private static void assertShape(OpenAIServiceException e, int status, String type, String param, String code) {
    assertThat(e.statusCode()).isEqualTo(status);
    assertThat(e.type()).contains(type);
    assertThat(e.param()).isEqualTo(java.util.Optional.ofNullable(param));
    assertThat(e.code()).isEqualTo(java.util.Optional.ofNullable(code));
    assertThat(e.headers().values("Content-Type")).singleElement().asString().startsWith("application/json");
    @SuppressWarnings("unchecked")
    java.util.Map<String, ?> body = (java.util.Map<String, ?>) e.body().asObject().orElseThrow();
    assertThat(body).containsOnlyKeys("message", "type", "param", "code");
  }

  @Test
  void missingOrWrongKeyIs401() throws Exception {
    {
      OpenAIClient wrong = client("not-a-key");
      UnauthorizedException e = (UnauthorizedException) catchService(() ->
          wrong.chat().completions().create(chat(b -> {})));
      assertShape(e, 401, "invalid_request_error", null, "invalid_api_key");
      assertThat(e.headers().values("WWW-Authenticate")).containsExactly("Bearer");
    }
    HttpResponse<String> none = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + port + "/v1/models")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(none.statusCode()).isEqualTo(401);
    JsonNode error = JsonMapper.shared().readTree(none.body()).get("error");
    assertThat(error.propertyNames()).containsExactly("message", "type", "param", "code");
    assertThat(error.get("message").asString()).contains("API key");
    assertThat(error.get("param").isNull()).isTrue();
  }

  @Test
  void badRequestsAre400NamingTheField() {
    {
      OpenAIClient c = client("key-c");
      assertShape(catchService(() -> c.chat().completions().create(chat(b -> b.presencePenalty(2.5)))),
          400, "invalid_request_error", "presence_penalty", null);
      assertShape(catchService(() -> c.chat().completions().create(chat(b -> b.logprobs(true).topLogprobs(21)))),
          400, "invalid_request_error", "top_logprobs", null);
      assertShape(catchService(() -> c.chat().completions().create(chat(
          b -> b.putAdditionalBodyProperty("best_guess", JsonValue.from(true))))),
          400, "invalid_request_error", "best_guess", "unsupported_parameter");
      OpenAIServiceException e = catchService(() -> c.chat().completions().create(chat(b -> b.maxCompletionTokens(0))));
      assertShape(e, 400, "invalid_request_error", "max_completion_tokens", null);
      assertThat(e).isInstanceOf(BadRequestException.class);
      assertShape(catchService(() -> c.chat().completions().create(chat(b -> b.temperature(3.0)))),
          400, "invalid_request_error", "temperature", null);
    }
  }

  @Test
  void unknownModelIs404() {
    {
      OpenAIClient c = client("key-c");
      OpenAIServiceException e = catchService(() -> c.chat().completions().create(chat(b -> b.model("gpt-4o"))));
      assertThat(e).isInstanceOf(NotFoundException.class);
      assertShape(e, 404, "invalid_request_error", "model", "model_not_found");
      assertShape(catchService(() -> c.models().retrieve("gpt-4o")), 404, "invalid_request_error", "model",
          "model_not_found");
    }
  }

  @Test
  void rateLimitIs429WithRetryAfter() {
    {
      OpenAIClient c = client("key-b");
      for (int i = 0; i < 3; i++) {
        assertThat(c.chat().completions().create(chat(b -> {})).choices()).hasSize(1);
      }
      OpenAIServiceException e = catchService(() -> c.chat().completions().create(chat(b -> {})));
      assertThat(e).isInstanceOf(RateLimitException.class);
      assertShape(e, 429, "requests_per_minute", null, "rate_limit_exceeded");
      List<String> retryAfter = e.headers().values("Retry-After");
      assertThat(retryAfter).hasSize(1);
      assertThat(Integer.parseInt(retryAfter.get(0))).isBetween(1, 20); // a token refills every 20 s
    }
  }

  /** Requests that ended with finish reason cancelled, so far. */
  private double cancelled() {
    var c = meters.find("autoglm.requests.finished").tag("gen_ai.response.finish_reasons", "cancelled").counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void fullQueueIs503WithRetryAfter() throws Exception {
    AutoGLM glm = provider.get().orElseThrow();
    double cancelledBefore = cancelled();
    try (RawStream running = new RawStream(port, "key-a", RawStream.longChat(1900))) {
      assertThat(running.statusLine).isEqualTo("HTTP/1.1 200 ");
      await().atMost(Duration.ofSeconds(30)).until(() -> glm.stats().running() == 1);
      try (RawStream waiting = new RawStream(port, "key-a", RawStream.longChat(1900))) {
        assertThat(waiting.statusLine).isEqualTo("HTTP/1.1 200 ");
        assertThat(glm.stats().waiting()).isEqualTo(1);
        OpenAIServiceException e = catchService(() -> client("key-a").chat().completions().create(chat(b -> {})));
        assertThat(e).isInstanceOf(InternalServerException.class);
        assertShape(e, 503, "server_error", null, "overloaded");
        assertThat(e.headers().values("Retry-After")).containsExactly("1");
      }
    }
    // Both clients hung up: both streams end cancelled (not by running their 1900 tokens), nothing held. 30 s: the
    // queued one is found gone by a disconnect check or by its first write once admitted, on a possibly busy host.
    await().atMost(Duration.ofSeconds(30)).until(() -> glm.stats().running() + glm.stats().waiting() == 0
        && glm.stats().kvUsage() == 0);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(cancelled()).as("cancelled streams")
        .isEqualTo(cancelledBefore + 2));
  }

  private static OpenAIServiceException catchService(Runnable call) {
    Throwable[] thrown = new Throwable[1];
    assertThatThrownBy(call::run).isInstanceOf(OpenAIServiceException.class).satisfies(t -> thrown[0] = t);
    return (OpenAIServiceException) thrown[0];
  }
}

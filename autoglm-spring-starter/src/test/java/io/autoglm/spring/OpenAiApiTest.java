package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import io.autoglm.AutoGLM;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The OpenAI Java client against the starter's server on a random port, serving a random GLM-4-vocabulary model
 * with the real tokenizer: chat, streamed chat, completions, models, disconnects, and the actuator views.
 */
@SpringBootTest(classes = TestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "management.endpoints.web.exposure.include=health,autoglm,metrics",
      "management.endpoint.health.show-details=always",
      "management.endpoint.health.probes.enabled=true",
    })
class OpenAiApiTest {
  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  @Autowired MeterRegistry meters;
  @RegisterExtension static final OpenAiTestClient CLIENT = new OpenAiTestClient();
  private static OpenAIClient client;

  @BeforeEach
  void ready() {
    client = CLIENT.ready(provider, port);
  }

  private static ChatCompletionCreateParams.Builder chat(String text, int maxTokens) {
    return ChatCompletionCreateParams.builder().model(TestModel.ID).addUserMessage(text)
        .maxCompletionTokens(maxTokens).temperature(0.0)
        .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
  }

  @Test
  void chatWithoutStreaming() {
    ChatCompletion c = client.chat().completions().create(chat("Hello, who are you?", 12).build());
    assertThat(c.id()).startsWith("chatcmpl-");
    assertThat(c.model()).isEqualTo(TestModel.ID);
    assertThat(c.choices()).hasSize(1);
    ChatCompletion.Choice choice = c.choices().get(0);
    assertThat(choice.message().content()).isPresent().get().asString().isNotEmpty();
    assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.LENGTH);
    assertThat(c.usage()).isPresent();
    assertThat(c.usage().get().completionTokens()).isEqualTo(12);
    assertThat(c.usage().get().promptTokens()).isGreaterThan(5);
    assertThat(c.usage().get().totalTokens()).isEqualTo(c.usage().get().promptTokens() + 12);
  }

  @Test
  void streamedChatChunksConcatenateToTheGreedyAnswer() {
    String whole = client.chat().completions().create(chat("你好，请介绍一下自己 🌍", 24).build())
        .choices().get(0).message().content().orElseThrow();
    StringBuilder streamed = new StringBuilder();
    List<String> finishReasons = new ArrayList<>();
    List<Long> usage = new ArrayList<>();
    ChatCompletionCreateParams params = chat("你好，请介绍一下自己 🌍", 24)
        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
      stream.stream().forEach(chunk -> {
        assertThat(chunk.id()).startsWith("chatcmpl-");
        chunk.usage().ifPresent(u -> usage.add(u.completionTokens()));
        for (ChatCompletionChunk.Choice choice : chunk.choices()) {
          choice.delta().content().ifPresent(streamed::append);
          choice.finishReason().ifPresent(f -> finishReasons.add(f.asString()));
        }
      });
    }
    assertThat(streamed.toString()).isEqualTo(whole).isNotEmpty();
    assertThat(finishReasons).containsExactly("length");
    assertThat(usage).containsExactly(24L);
  }

  /**
   * With tools the engine parses the answer as it streams (GLM-4 call syntax): a random model makes no call, so
   * the streamed content deltas add up to the non-streamed content and neither has tool calls.
   */
  @Test
  void chatWithToolsStreamsItsParsedContent() {
    ChatCompletionCreateParams params = chat("What is the weather in Paris?", 16)
        .addTool(com.openai.models.chat.completions.ChatCompletionFunctionTool.builder().function(
            com.openai.models.FunctionDefinition.builder().name("get_weather").build()).build()).build();
    ChatCompletion whole = client.chat().completions().create(params);
    assertThat(whole.choices().get(0).message().toolCalls()).isEmpty();
    assertThat(whole.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.LENGTH);
    StringBuilder streamed = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> {
        ch.delta().content().ifPresent(streamed::append);
        assertThat(ch.delta().toolCalls()).isEmpty();
      }));
    }
    assertThat(streamed.toString()).isEqualTo(whole.choices().get(0).message().content().orElseThrow())
        .isNotEmpty();
  }

  private static final String WEATHER_SCHEMA = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
      + "\"string\",\"maxLength\":10},\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7}},"
      + "\"required\":[\"city\",\"days\"]}";

  private static com.openai.models.chat.completions.ChatCompletionFunctionTool tool(String name, String schema) {
    com.openai.models.FunctionParameters.Builder p = com.openai.models.FunctionParameters.builder();
    JsonMapper.shared().readTree(schema).properties().forEach(e ->
        p.putAdditionalProperty(e.getKey(), JsonValue.from(JsonMapper.shared().convertValue(e.getValue(),
            Object.class))));
    return com.openai.models.chat.completions.ChatCompletionFunctionTool.builder().function(
        com.openai.models.FunctionDefinition.builder().name(name).parameters(p.build()).build()).build();
  }

  /** The name and arguments of a streamed answer's tool-call deltas, concatenated; its finish reasons checked. */
  private static List<String> streamedCall(ChatCompletionCreateParams params) {
    StringBuilder name = new StringBuilder();
    StringBuilder arguments = new StringBuilder();
    List<String> finish = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> {
        ch.delta().toolCalls().ifPresent(calls -> calls.forEach(c -> c.function().ifPresent(f -> {
          f.name().ifPresent(name::append);
          f.arguments().ifPresent(arguments::append);
        })));
        ch.finishReason().ifPresent(f -> finish.add(f.asString()));
      }));
    }
    assertThat(finish).containsExactly("tool_calls");
    return List.of(name.toString(), arguments.toString());
  }

  /**
   * tool_choice required (two tools) and a named function: a random model at temperature 1 answers, by constrained
   * decoding, with one call of an allowed tool whose arguments a standard validator accepts, finish reason
   * tool_calls; an unknown name is a 400 naming it.
   */
  @Test
  void forcedToolChoiceReturnsValidToolCalls() {
    var oracles = java.util.Map.of("get_weather", new io.autoglm.grammar.SchemaOracle(WEATHER_SCHEMA),
        "get_time", new io.autoglm.grammar.SchemaOracle("{\"type\":\"object\",\"properties\":{}}"));
    ChatCompletionCreateParams.Builder base = ChatCompletionCreateParams.builder().model(TestModel.ID)
        .addUserMessage("Weather or time?").maxCompletionTokens(120).temperature(1.0)
        .addTool(tool("get_weather", WEATHER_SCHEMA)).addTool(tool("get_time", "{\"type\":\"object\"}"));
    for (int i = 0; i < 12; i++) {
      boolean named = i % 2 == 1;
      ChatCompletionCreateParams params = named ? base.toolChoice(
          com.openai.models.chat.completions.ChatCompletionNamedToolChoice.builder().function(
              com.openai.models.chat.completions.ChatCompletionNamedToolChoice.Function.builder()
                  .name("get_weather").build()).build()).seed(i).build()
          : base.toolChoice(com.openai.models.chat.completions.ChatCompletionToolChoiceOption.Auto.REQUIRED)
              .seed(i).build();
      ChatCompletion.Choice choice = client.chat().completions().create(params).choices().get(0);
      assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
      var calls = choice.message().toolCalls().orElseThrow();
      assertThat(calls).hasSize(1);
      var fn = calls.get(0).asFunction().function();
      if (named) {
        assertThat(fn.name()).isEqualTo("get_weather");
      }
      assertThat(oracles).containsKey(fn.name());
      assertThat(oracles.get(fn.name()).errors(fn.arguments())).as(fn.arguments()).isEmpty();
      if (i < 2) {
        assertThat(streamedCall(params)).containsExactly(fn.name(), fn.arguments());
      }
    }
    ChatCompletionCreateParams unknown = base.toolChoice(
        com.openai.models.chat.completions.ChatCompletionNamedToolChoice.builder().function(
            com.openai.models.chat.completions.ChatCompletionNamedToolChoice.Function.builder()
                .name("send_mail").build()).build()).build();
    var e = org.junit.jupiter.api.Assertions.assertThrows(com.openai.errors.BadRequestException.class,
        () -> client.chat().completions().create(unknown));
    assertThat(e.getMessage()).contains("'send_mail'");
  }

  @Test
  void completionsStreamedAndNot() {
    CompletionCreateParams params = CompletionCreateParams.builder().model(TestModel.ID).prompt("The answer is")
        .maxTokens(10).temperature(0.0).putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
    Completion c = client.completions().create(params);
    assertThat(c.id()).startsWith("cmpl-");
    CompletionChoice choice = c.choices().get(0);
    assertThat(choice.text()).isNotEmpty();
    assertThat(choice.finishReason()).isEqualTo(CompletionChoice.FinishReason.LENGTH);
    assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(10);

    StringBuilder streamed = new StringBuilder();
    try (StreamResponse<Completion> stream = client.completions().createStreaming(params)) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> streamed.append(ch.text())));
    }
    assertThat(streamed.toString()).isEqualTo(choice.text());
  }

  @Test
  void seededChoicesAreReproducible() {
    ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model(TestModel.ID)
        .addUserMessage("Tell me a story").maxCompletionTokens(4).temperature(1.0).seed(42).n(3)
        .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
    ChatCompletion a = client.chat().completions().create(params);
    ChatCompletion b = client.chat().completions().create(params);
    assertThat(a.choices()).hasSize(3);
    assertThat(a.choices()).extracting(ChatCompletion.Choice::index).containsExactly(0L, 1L, 2L);
    assertThat(a.choices()).extracting(ch -> ch.message().content().orElseThrow())
        .isEqualTo(b.choices().stream().map(ch -> ch.message().content().orElseThrow()).toList());
    assertThat(a.usage().orElseThrow().completionTokens()).isEqualTo(12);
  }

  @Test
  void listsAndRetrievesTheModel() {
    List<Model> models = client.models().list().data();
    assertThat(models).extracting(Model::id).containsExactly(TestModel.ID);
    assertThat(client.models().retrieve(TestModel.ID).id()).isEqualTo(TestModel.ID);
  }

  /**
   * A raw client reads 3 SSE chunks and hangs up: the request is cancelled (finish reason cancelled, not a stream
   * that ran to its 1900 tokens) and its KV blocks freed. Typically within milliseconds (the next write fails); the
   * 10 s bound only keeps a loaded CI host from failing it, the cancelled count is what proves the hang-up did it.
   */
  @Test
  void disconnectCancelsTheRequestAndFreesItsBlocks() throws Exception {
    AutoGLM glm = provider.get().orElseThrow();
    double cancelledBefore = cancelled();
    long closed;
    try (RawStream stream = new RawStream(port, null, RawStream.longChat(1900))) {
      assertThat(stream.statusLine).isEqualTo("HTTP/1.1 200 ");
      assertThat(stream.readChunks(3)).isEqualTo(3);
      assertThat(glm.stats().running()).isEqualTo(1);
      closed = System.nanoTime();
    }
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).untilAsserted(() -> {
      assertThat(glm.stats().running()).isZero();
      assertThat(glm.stats().waiting()).isZero();
      assertThat(glm.stats().kvUsage()).isZero();
    });
    System.out.printf("streamed request cancelled and freed %.0f ms after its client hung up%n",
        (System.nanoTime() - closed) / 1e6);
    await().atMost(Duration.ofSeconds(10)).until(() -> cancelled() == cancelledBefore + 1);
  }

  private double cancelled() {
    var c = meters.find("autoglm.requests.finished").tag("gen_ai.response.finish_reasons", "cancelled").counter();
    return c == null ? 0 : c.count();
  }

  @Test
  void healthEndpointAndMetrics() throws Exception {
    JsonNode health = get("/actuator/health", 200);
    assertThat(health.at("/components/autoglm/status").asString()).isEqualTo("UP");
    assertThat(health.at("/components/autoglm/details/model").asString()).isEqualTo(TestModel.ID);
    assertThat(get("/actuator/health/readiness", 200).at("/status").asString()).isEqualTo("UP");
    JsonNode endpoint = get("/actuator/autoglm", 200);
    assertThat(endpoint.at("/state").asString()).isEqualTo("READY");
    assertThat(endpoint.at("/model/id").asString()).isEqualTo(TestModel.ID);
    assertThat(endpoint.at("/model/vocabSize").asInt()).isEqualTo(151552);
    assertThat(endpoint.at("/queue/running").isNumber()).isTrue();
    assertThat(endpoint.at("/kvCache/blocks").asInt()).isEqualTo(2048);
    assertThat(endpoint.at("/kvCache/dtype").asString()).isEqualTo("auto");
    assertThat(endpoint.at("/model/quantization").asString()).isEqualTo("none");
    assertThat(endpoint.at("/settings/maxRunningSequences").asInt()).isEqualTo(256);
    client.completions().create(CompletionCreateParams.builder().model(TestModel.ID).prompt("Hi").maxTokens(2)
        .build());
    JsonNode ttft = get("/actuator/metrics/gen_ai.server.time_to_first_token", 200);
    assertThat(ttft.at("/measurements/0/statistic").asString()).isEqualTo("COUNT");
    assertThat(ttft.at("/measurements/0/value").asDouble()).isPositive();
    get("/actuator/metrics/gen_ai.client.token.usage", 200);
  }

  private JsonNode get(String path, int status) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri(path)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(status);
    return JsonMapper.shared().readTree(r.body());
  }

  private URI uri(String path) {
    return URI.create("http://localhost:" + port + path);
  }
}

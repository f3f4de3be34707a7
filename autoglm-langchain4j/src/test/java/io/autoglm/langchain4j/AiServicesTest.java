package io.autoglm.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.google.gson.Gson;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.Result;
import dev.langchain4j.service.TokenStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import io.autoglm.AutoGLM;
import io.autoglm.grammar.SchemaOracle;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LangChain4j's AiServices over the adapter, in-process on the random model: a {@code @Tool} method is called
 * because tool choice REQUIRED forces it (a random model never calls unforced), then the structured return type is
 * filled from JSON that constrained decoding keeps valid under the schema AiServices derived from it. The schema is
 * checked by a standard JSON Schema validator (the second implementation), the tool's arguments likewise.
 */
class AiServicesTest {
  enum City { PARIS, BERLIN, TOKYO }

  /**
   * Bounded fields only (enum, integer, boolean): a random model fills an unbounded string until max tokens. The
   * integer is a {@code long}: the derived schema bounds integers by nothing but the grammar's 18 digits. LangChain4j
   * derives optional properties unless {@code @JsonProperty(required = true)} says otherwise.
   */
  record Forecast(@JsonProperty(required = true) City city, @JsonProperty(required = true) long temperatureCelsius,
      @JsonProperty(required = true) boolean sunny) {}

  interface Forecaster {
    Result<Forecast> forecast(String question);
  }

  static final class WeatherTools {
    final List<City> asked = new CopyOnWriteArrayList<>();

    @Tool("The current temperature of a city, in degrees Celsius")
    int temperature(City city) {
      asked.add(city);
      return 21;
    }
  }

  /** Every request and response the model saw, in order. */
  static final class Recorder implements ChatModelListener {
    final List<ChatRequest> requests = new CopyOnWriteArrayList<>();
    final List<ChatResponse> responses = new CopyOnWriteArrayList<>();

    @Override
    public void onRequest(ChatModelRequestContext context) {
      requests.add(context.chatRequest());
    }

    @Override
    public void onResponse(ChatModelResponseContext context) {
      responses.add(context.chatResponse());
    }
  }

  private static AutoGLM glm;

  @BeforeAll
  static void start() {
    glm = TestEngine.start();
  }

  @AfterAll
  static void stop() {
    glm.close();
  }

  @Test
  void forcedToolRunsAndTheStructuredAnswerIsValid() {
    Recorder recorder = new Recorder();
    AutoGLMChatModel model = AutoGLMChatModel.builder().autoGLM(glm).toolChoice(ToolChoice.REQUIRED)
        .temperature(1.0).seed(11L).maxTokens(64).listeners(List.of(recorder)).build();
    WeatherTools tools = new WeatherTools();
    Forecaster forecaster = AiServices.builder(Forecaster.class).chatModel(model).tools(tools).build();

    Result<Forecast> result = forecaster.forecast("What is the weather in Paris?");

    // round 1 forced the call; round 2 (after the tool result) answered freely under the schema
    assertEquals(2, recorder.requests.size());
    assertEquals(1, tools.asked.size(), "the tool ran exactly once");
    ChatResponse call = recorder.responses.get(0);
    assertEquals(FinishReason.TOOL_EXECUTION, call.finishReason());
    assertEquals("temperature", call.aiMessage().toolExecutionRequests().get(0).name());
    String toolSchema = new Gson().toJson(ChatRequests.tools(recorder.requests.get(0).toolSpecifications()).get(0)
        .get("function") instanceof java.util.Map<?, ?> f ? f.get("parameters") : null);
    assertEquals(List.of(), new SchemaOracle(toolSchema)
        .errors(call.aiMessage().toolExecutionRequests().get(0).arguments()));
    ToolExecutionResultMessage toolResult = assertInstanceOf(ToolExecutionResultMessage.class,
        recorder.requests.get(1).messages().get(recorder.requests.get(1).messages().size() - 1));
    assertEquals("21", toolResult.text());

    ChatResponse answer = recorder.responses.get(1);
    assertEquals(FinishReason.STOP, answer.finishReason(), "the JSON value completed within max tokens");
    String schema = new Gson().toJson(JsonSchemaElementUtils.toMap(
        recorder.requests.get(1).responseFormat().jsonSchema().rootElement()));
    assertEquals(List.of(), new SchemaOracle(schema).errors(answer.aiMessage().text()));
    assertTrue(schema.contains("\"required\":[\"city\",\"temperatureCelsius\",\"sunny\"]"), schema);
    Forecast forecast = result.content();
    assertNotNull(forecast.city());
    assertEquals(answer.aiMessage().text(), new Gson().toJson(forecast), "the object holds what the model wrote");
    assertTrue(result.tokenUsage().inputTokenCount() > 0);
    assertEquals(call.tokenUsage().outputTokenCount() + answer.tokenUsage().outputTokenCount(),
        result.tokenUsage().outputTokenCount());
  }

  interface StreamingAssistant {
    TokenStream chat(String question);
  }

  @Test
  void aStreamingServiceRunsTheForcedToolAndStreamsTheAnswer() throws Exception {
    AutoGLMStreamingChatModel model = AutoGLMStreamingChatModel.builder().autoGLM(glm)
        .toolChoice(ToolChoice.REQUIRED).temperature(1.0).seed(4L).maxTokens(16).build();
    WeatherTools tools = new WeatherTools();
    StreamingAssistant assistant = AiServices.builder(StreamingAssistant.class).streamingChatModel(model)
        .tools(tools).build();
    List<String> partials = new CopyOnWriteArrayList<>();
    CompletableFuture<ChatResponse> done = new CompletableFuture<>();
    assistant.chat("What is the weather in Tokyo?").onPartialResponse(partials::add)
        .onCompleteResponse(done::complete).onError(done::completeExceptionally).start();
    ChatResponse last = done.get(60, TimeUnit.SECONDS);

    assertEquals(1, tools.asked.size(), "the tool ran exactly once");
    assertTrue(List.of(FinishReason.STOP, FinishReason.LENGTH).contains(last.finishReason()), last.toString());
    assertEquals(last.aiMessage().text(), String.join("", partials));
    assertTrue(last.tokenUsage().outputTokenCount() > 0);
  }
}

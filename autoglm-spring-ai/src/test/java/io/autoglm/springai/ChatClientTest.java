package io.autoglm.springai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import io.autoglm.AutoGLM;
import io.autoglm.grammar.SchemaOracle;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.ResponseEntity;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.observation.ChatModelObservationContext;
import org.springframework.ai.tool.annotation.Tool;

/**
 * Spring AI's ChatClient over the adapter, in-process on the random model: a {@code @Tool} is called because tool
 * choice REQUIRED forces it (a random model never calls unforced), ChatClient's tool-calling advisor runs it
 * through the ToolCallingManager, and {@code .entity(Record.class)} reads JSON that constrained decoding keeps valid
 * under the schema ChatClient derived from the record (native structured output). Schemas are checked by a
 * standard JSON Schema validator; every model call is observed as Spring AI's chat observation.
 */
class ChatClientTest {
  enum City { PARIS, BERLIN, TOKYO }

  /** Bounded fields only (enum, integer, boolean): a random model fills an unbounded string until max tokens. */
  record Forecast(City city, long temperatureCelsius, boolean sunny) {}

  static final class WeatherTools {
    final List<City> asked = new CopyOnWriteArrayList<>();

    @Tool(description = "The current temperature of a city, in degrees Celsius")
    int temperature(City city) {
      asked.add(city);
      return 21;
    }
  }

  /** Every finished chat observation's context, in order. */
  static final class Contexts implements ObservationHandler<ChatModelObservationContext> {
    final List<ChatModelObservationContext> seen = new CopyOnWriteArrayList<>();

    @Override
    public void onStop(ChatModelObservationContext context) {
      seen.add(context);
    }

    @Override
    public boolean supportsContext(Observation.Context context) {
      return context instanceof ChatModelObservationContext;
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
  void forcedToolRunsAndEntityIsValidUnderTheRecordsSchema() {
    Contexts contexts = new Contexts();
    ObservationRegistry observations = ObservationRegistry.create();
    observations.observationConfig().observationHandler(contexts);
    AutoGLMChatModel model = AutoGLMChatModel.builder().autoGLM(glm).observationRegistry(observations)
        .defaultOptions(AutoGLMChatOptions.builder().toolChoice(AutoGLMChatOptions.ToolChoice.REQUIRED)
            .temperature(1.0).seed(11L).maxTokens(64).build()).build();
    ChatClient client = ChatClient.builder(model).defaultAdvisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT)
        .build();
    WeatherTools tools = new WeatherTools();

    ResponseEntity<ChatResponse, Forecast> answer = client.prompt().user("What is the weather in Paris?")
        .tools(tools).call().responseEntity(Forecast.class);

    assertEquals(1, tools.asked.size(), "the tool ran exactly once");
    assertEquals(2, contexts.seen.size(), "a forced call, then the answer");
    ChatResponse call = contexts.seen.get(0).getResponse();
    assertEquals("TOOL_CALLS", call.getResult().getMetadata().getFinishReason());
    var toolCall = call.getResult().getOutput().getToolCalls().get(0);
    assertEquals("temperature", toolCall.name());
    Object parameters = ((Map<?, ?>) Prompts.tools(model.getOptions().overriddenBy(
        contexts.seen.get(0).getRequest().getOptions()).getToolCallbacks().stream()
        .map(c -> c.getToolDefinition()).toList()).get(0).get("function")).get("parameters");
    assertEquals(List.of(), new SchemaOracle(new Gson().toJson(parameters)).errors(toolCall.arguments()));
    var secondPrompt = contexts.seen.get(1).getRequest().getInstructions();
    ToolResponseMessage result = assertInstanceOf(ToolResponseMessage.class, secondPrompt.get(secondPrompt.size() - 1));
    assertEquals("21", result.getResponses().get(0).responseData());

    String schema = ((AutoGLMChatOptions) contexts.seen.get(1).getRequest().getOptions()).getOutputSchema();
    assertNotNull(schema, "ChatClient passed the record's schema natively");
    List<?> required = (List<?>) new Gson().fromJson(schema, Map.class).get("required");
    assertEquals(java.util.Set.of("city", "temperatureCelsius", "sunny"), java.util.Set.copyOf(required),
        "every field is required: " + schema);
    String text = answer.response().getResult().getOutput().getText();
    assertEquals("STOP", answer.response().getResult().getMetadata().getFinishReason());
    assertEquals(List.of(), new SchemaOracle(schema).errors(text));
    assertNotNull(answer.entity().city());
    assertEquals(new Gson().fromJson(text, Forecast.class), answer.entity(), "the entity holds what the model wrote");
    assertTrue(contexts.seen.stream().allMatch(c -> c.getOperationMetadata().provider().equals("autoglm")));
  }

  @Test
  void aStreamedForcedCallRunsTheToolOnceAndTheStreamCompletes() {
    AutoGLMChatModel model = AutoGLMChatModel.builder().autoGLM(glm).build();
    WeatherTools tools = new WeatherTools();
    List<ChatResponse> chunks = ChatClient.create(model).prompt().user("What is the weather in Tokyo?").tools(tools)
        .options(AutoGLMChatOptions.builder().toolChoice(AutoGLMChatOptions.ToolChoice.REQUIRED).temperature(1.0)
            .seed(4L).maxTokens(16))
        .stream().chatResponse().collectList().block(java.time.Duration.ofMinutes(1));

    assertEquals(1, tools.asked.size(), "the advisor ran the streamed call once");
    ChatResponse last = chunks.get(chunks.size() - 1);
    assertTrue(List.of("STOP", "LENGTH").contains(last.getResult().getMetadata().getFinishReason()),
        "the answer after the tool result ended normally: " + last);
    assertTrue(chunks.stream().noneMatch(ChatResponse::hasToolCalls), "the call itself is not passed on");
  }
}

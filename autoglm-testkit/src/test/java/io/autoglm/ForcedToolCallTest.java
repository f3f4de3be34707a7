package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import io.autoglm.grammar.SchemaOracle;
import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.TextRequest.OutputParsing;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forced tool calls end to end: a random model (gibberish unless constrained) at the real GLM-4 vocabulary, at
 * temperature 1, many requests in flight at once. The reference is the answer parser (the same one as for free
 * answers) and a standard JSON Schema validator on each call's arguments: every answer must be exactly one call of
 * an allowed tool whose arguments validate, finished with {@code tool_calls}.
 */
class ForcedToolCallTest {
  private static final int REQUESTS = 60;
  private static final Map<String, Object> WEATHER = Map.of("type", "object", "properties", Map.of(
      "city", Map.of("type", "string", "minLength", 1, "maxLength", 12),
      "unit", Map.of("type", "string", "enum", List.of("celsius", "fahrenheit"))), "required", List.of("city"));
  private static final Map<String, Object> FLIGHT = Map.of("type", "object", "properties", Map.of(
      "to", Map.of("type", "string", "maxLength", 6),
      "seats", Map.of("type", "integer", "minimum", 1, "maximum", 9),
      "direct", Map.of("type", "boolean")), "required", List.of("to", "seats"));
  private static final List<Map<String, Object>> TOOLS = List.of(tool("get_weather", WEATHER),
      tool("book_flight", FLIGHT));
  private static final Map<String, SchemaOracle> ORACLES = Map.of("get_weather",
      new SchemaOracle(new Gson().toJson(WEATHER)), "book_flight", new SchemaOracle(new Gson().toJson(FLIGHT)));

  @TempDir static Path dir;
  private static AutoGLM glm;

  private static Map<String, Object> tool(String name, Map<String, Object> parameters) {
    return Map.of("type", "function", "function", Map.of("name", name, "description", "tool " + name,
        "parameters", parameters));
  }

  @BeforeAll
  static void load() {
    Path model = dir.resolve("glm-random");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "1", "hidden_size", "32",
        "intermediate_size", "64", "num_attention_heads", "2", "head_dim", "16", "num_key_value_heads", "1",
        "max_position_embeddings", "1024"), 1L << 30, 17).write(model, s -> {});
    glm = AutoGLM.builder().modelPath(model).tokenizerPath(Fixtures.root().resolve("tokenizers/glm-4-9b-chat-hf"))
        .kvBlocks(2048).maxRunningSequences(128).build();
  }

  @AfterAll
  static void close() {
    glm.close();
  }

  private static TextRequest request(int i, ResponseFormat format) {
    ChatPrompt chat = new ChatPrompt(List.of(ChatMessage.user("request #" + i)), TOOLS, true, Map.of());
    return TextRequest.chat(chat, SamplingParams.builder().maxNewTokens(200).temperature(1.0)
        .responseFormat(format).build()).withParsing(OutputParsing.REASONING_AND_TOOL_CALLS);
  }

  /** Submits {@link #REQUESTS} at once; returns the names called (each answer checked). */
  private static List<String> run(ResponseFormat format, Set<String> allowed) {
    List<GenerationHandle> handles = new ArrayList<>();
    for (int i = 0; i < REQUESTS; i++) {
      handles.add(glm.submit(request(i, format)));
    }
    List<String> names = new ArrayList<>();
    for (GenerationHandle h : handles) {
      GenerationResult r = h.result().join();
      assertEquals(FinishReason.TOOL_CALLS, r.finishReason(), r.text());
      List<ToolCall> calls = r.answer().orElseThrow().toolCalls();
      assertEquals(1, calls.size(), r.text());
      ToolCall call = calls.get(0);
      assertTrue(allowed.contains(call.name()), call.name() + " not in " + allowed);
      SchemaOracle oracle = ORACLES.get(call.name());
      assertTrue(oracle.valid(call.argumentsJson()), call.argumentsJson() + " " + oracle.errors(call.argumentsJson()));
      assertEquals("", r.answer().orElseThrow().content(), r.text());
      names.add(call.name());
    }
    return names;
  }

  @Test
  void requiredGivesOneValidCallOfOneOfTheTools() {
    List<String> names = run(ResponseFormat.toolCall(TOOLS, Optional.empty()), Set.of("get_weather", "book_flight"));
    assertTrue(names.contains("get_weather") && names.contains("book_flight"),
        "at temperature 1 both alternatives are reachable: " + names);
  }

  @Test
  void aNamedFunctionGivesOneValidCallOfIt() {
    run(ResponseFormat.toolCall(TOOLS, Optional.of("book_flight")), Set.of("book_flight"));
    run(ResponseFormat.toolCall(TOOLS, Optional.of("get_weather")), Set.of("get_weather"));
  }

  @Test
  void anUnknownFunctionNameIsRefusedNamingIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ResponseFormat.toolCall(TOOLS, Optional.of("send_mail")));
    assertTrue(e.getMessage().contains("'send_mail'"), e.getMessage());
  }

  @Test
  void aForcedCallOutsideAParsedChatIsRefusedAtSubmit() {
    SamplingParams params = SamplingParams.builder().responseFormat(ResponseFormat.toolCall(TOOLS,
        Optional.empty())).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> glm.submit(TextRequest.completion("x", params)));
    assertTrue(e.getMessage().contains("forced tool call"), e.getMessage());
  }
}

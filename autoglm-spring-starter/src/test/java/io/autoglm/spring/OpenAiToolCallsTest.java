package io.autoglm.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.core.ObjectMappers;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionMessage;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.answer.AnswerParser;
import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The wire format of parsed answers, read back by the official openai-java client's own model classes. A random
 * model never emits calls unforced, so the answer is a deterministic GLM-4.5 text fed through the parser; forced
 * calls through the server need constrained decoding (issue 19).
 */
class OpenAiToolCallsTest {
  private static final List<Map<String, Object>> TOOLS = List.of(Map.of("type", "function", "function",
      Map.of("name", "get_weather", "parameters", Map.of("type", "object", "properties",
          Map.of("city", Map.of("type", "string"), "days", Map.of("type", "integer"))))));
  private static final AnswerFormat FORMAT = AnswerFormat.detect("<think> <arg_key>", "<|assistant|>", TOOLS, true);
  private static final String ANSWER = "\n<think>need weather</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>"
      + "\n<arg_value>北京</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>"
      + "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>上海</arg_value>\n</tool_call>";

  @Test
  void messageCarriesToolCallsAndReasoning() throws Exception {
    ParsedAnswer parsed = AnswerParser.parse(FORMAT, ANSWER);
    GenerationResult r = new GenerationResult("req-1", List.of(1, 2), ANSWER, FinishReason.TOOL_CALLS,
        new Usage(3, 2, 0), Optional.empty(), Optional.of(parsed));
    Map<String, Object> message = new LinkedHashMap<>(Map.of("role", "assistant"));
    OpenAiToolCalls.fill(message, r);
    Map<String, Object> choice = new LinkedHashMap<>();
    choice.put("index", 0);
    choice.put("message", message);
    choice.put("logprobs", null);
    choice.put("finish_reason", r.finishReason().openAiName());
    Map<String, Object> body = Map.of("id", "chatcmpl-1", "object", "chat.completion", "created", 1,
        "model", "m", "choices", List.of(choice));
    ChatCompletion c = ObjectMappers.jsonMapper().readValue(Json.string(body), ChatCompletion.class);
    c.validate();
    ChatCompletionMessage m = c.choices().get(0).message();
    assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, c.choices().get(0).finishReason());
    assertTrue(m.content().isEmpty(), "content is null when the answer is only calls");
    assertEquals("need weather", m._additionalProperties().get("reasoning_content").asStringOrThrow());
    List<ToolCall> expected = parsed.toolCalls();
    assertEquals(expected.size(), m.toolCalls().orElseThrow().size());
    for (int i = 0; i < expected.size(); i++) {
      ChatCompletionMessageFunctionToolCall call = m.toolCalls().get().get(i).asFunction();
      assertEquals(expected.get(i).id(), call.id());
      assertEquals(expected.get(i).name(), call.function().name());
      assertEquals(expected.get(i).argumentsJson(), call.function().arguments());
    }
  }

  @Test
  void streamedDeltasReassembleToTheCalls() throws Exception {
    AnswerParser p = new AnswerParser(FORMAT);
    List<AnswerDelta> deltas = new ArrayList<>();
    for (int i = 0; i < ANSWER.length(); i += 3) {
      deltas.addAll(p.feed(ANSWER.substring(i, Math.min(ANSWER.length(), i + 3))));
    }
    deltas.addAll(p.finish());
    Map<Long, String[]> calls = new LinkedHashMap<>();
    StringBuilder reasoning = new StringBuilder();
    for (AnswerDelta d : deltas) {
      Map<String, Object> choice = new LinkedHashMap<>();
      choice.put("index", 0);
      choice.put("delta", OpenAiToolCalls.delta(d));
      choice.put("finish_reason", null);
      Map<String, Object> body = Map.of("id", "chatcmpl-1", "object", "chat.completion.chunk", "created", 1,
          "model", "m", "choices", List.of(choice));
      ChatCompletionChunk chunk = ObjectMappers.jsonMapper().readValue(Json.string(body), ChatCompletionChunk.class);
      chunk.validate();
      ChatCompletionChunk.Choice.Delta delta = chunk.choices().get(0).delta();
      Optional.ofNullable(delta._additionalProperties().get("reasoning_content"))
          .ifPresent(v -> reasoning.append(v.asStringOrThrow()));
      for (ChatCompletionChunk.Choice.Delta.ToolCall t : delta.toolCalls().orElse(List.of())) {
        String[] acc = calls.computeIfAbsent(t.index(), k -> new String[] {t.id().orElseThrow(),
            t.function().orElseThrow().name().orElseThrow(), ""});
        acc[2] += t.function().flatMap(ChatCompletionChunk.Choice.Delta.ToolCall.Function::arguments).orElse("");
      }
    }
    List<ToolCall> expected = p.result().toolCalls();
    assertEquals(2, expected.size());
    assertEquals(expected, calls.values().stream().map(a -> new ToolCall(a[0], a[1], a[2])).toList());
    assertEquals("need weather", reasoning.toString());
  }
}

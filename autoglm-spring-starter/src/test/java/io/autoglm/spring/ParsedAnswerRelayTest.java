package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.core.JsonValue;
import com.openai.core.ObjectMappers;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionMessage;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import io.autoglm.FinishReason;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TestHandles;
import io.autoglm.TokenEvent;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.answer.AnswerParser;
import io.autoglm.TextRequest.OutputParsing;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/**
 * A parsed answer through the stream relay and the non-streamed body, read by openai-java: a GLM-4.5 answer fed
 * to core's parser a few characters per token event, as the engine delivers it. The client's own accumulator
 * rebuilds from the chunks the message the non-streamed answer sends (content, tool calls with their ids and
 * arguments, finish reason {@code tool_calls}), the reasoning deltas add up to {@code reasoning_content}, and no
 * chunk leaks the model's markup. The parser's own splitting is core's AnswerParserTest.
 */
class ParsedAnswerRelayTest {
  private static final List<Map<String, Object>> TOOLS = List.of(Map.of("type", "function", "function",
      Map.of("name", "get_weather", "parameters", Map.of("type", "object", "properties",
          Map.of("city", Map.of("type", "string"), "days", Map.of("type", "integer"))))));
  private static final AnswerFormat FORMAT = AnswerFormat.detect("<think> <arg_key>", "<|assistant|>", TOOLS, true);
  private static final String ANSWER = "\n<think>need the weather</think>\nLet me check.\n<tool_call>get_weather\n"
      + "<arg_key>city</arg_key>\n<arg_value>北京</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n"
      + "</tool_call><tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>上海</arg_value>\n</tool_call>";

  private final MockHttpServletRequest request = new MockHttpServletRequest("POST", "/v1/chat/completions");
  private final SseRelayTest.FakeSse sse = new SseRelayTest.FakeSse();

  @ParameterizedTest(name = "parallel_tool_calls {0}")
  @ValueSource(booleans = {true, false})
  void streamedChunksRebuildTheAnswer(boolean parallel) throws Exception {
    OpenAiResponses format = new OpenAiResponses("chatcmpl-1", 1, "m", true, false,
        OutputParsing.REASONING_AND_TOOL_CALLS, parallel);
    request.setAsyncSupported(true);
    request.startAsync(request, new MockHttpServletResponse());
    GenerationHandle h = TestHandles.handle("req-1", Runnable::run, new AtomicInteger());
    new SseRelay(request, format, List.of(h), "").start(sse);
    AnswerParser parser = new AnswerParser(FORMAT);
    int tokens = 0;
    for (int i = 0; i < ANSWER.length(); i += 3, tokens++) {
      String piece = ANSWER.substring(i, Math.min(ANSWER.length(), i + 3));
      TestHandles.event(h, TokenEvent.of(tokens, 1, piece, parser.feed(piece)));
    }
    List<AnswerDelta> last = parser.finish();
    if (!last.isEmpty()) {
      TestHandles.event(h, TokenEvent.textOnly(tokens, "", last));
    }
    GenerationResult result = new GenerationResult("req-1", List.of(), ANSWER, FinishReason.TOOL_CALLS,
        new Usage(3, tokens, 0), Optional.empty(), Optional.of(parser.result()));
    TestHandles.finish(h, result);

    assertThat(sse.data).last().isEqualTo(" [DONE]");
    ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
    StringBuilder reasoning = new StringBuilder();
    for (String frame : sse.data.subList(0, sse.data.size() - 1)) {
      assertThat(frame).doesNotContain("<tool_call>", "<arg_key>", "<think>", "</think>");
      ChatCompletionChunk chunk = ObjectMappers.jsonMapper().readValue(frame.substring(1), ChatCompletionChunk.class);
      chunk.validate();
      Optional.ofNullable(chunk.choices().get(0).delta()._additionalProperties().get("reasoning_content"))
          .map(JsonValue::asStringOrThrow).ifPresent(reasoning::append);
      acc.accumulate(chunk);
    }
    ChatCompletion whole = ObjectMappers.jsonMapper().readValue(Json.string(format.answer(List.of(result), "")),
        ChatCompletion.class);
    whole.validate();
    ChatCompletionMessage sent = whole.choices().get(0).message();
    ChatCompletionMessage streamed = acc.chatCompletion().choices().get(0).message();

    List<ToolCall> expected = parallel ? result.toolCalls() : result.toolCalls().subList(0, 1);
    assertThat(result.toolCalls()).hasSize(2);
    assertThat(calls(sent)).isEqualTo(expected).isEqualTo(calls(streamed));
    assertThat(sent.content()).contains("Let me check.");
    assertThat(streamed.content()).isEqualTo(sent.content());
    assertThat(sent._additionalProperties().get("reasoning_content").asStringOrThrow())
        .isEqualTo("need the weather").isEqualTo(reasoning.toString());
    assertThat(whole.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
    assertThat(acc.chatCompletion().choices().get(0).finishReason())
        .isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
  }

  private static List<ToolCall> calls(ChatCompletionMessage m) {
    List<ToolCall> out = new ArrayList<>();
    for (ChatCompletionMessageToolCall c : m.toolCalls().orElse(List.of())) {
      ChatCompletionMessageFunctionToolCall f = c.asFunction();
      out.add(new ToolCall(f.id(), f.function().name(), f.function().arguments()));
    }
    return out;
  }
}

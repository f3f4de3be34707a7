package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessage;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.ResponseCache;
import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import io.autoglm.tokenizer.ChatTemplate;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.answer.AnswerParser;
import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Function calling through the server with the official openai-java client. A random model never makes a call
 * unforced, so the answers come from a scripted {@link ResponseCache} bean (a test-only path the starter already
 * has: a bean replaces its cache): a greedy request is a cache lookup, and a hit returns a stored result without
 * running the model; the stored answers are GLM-4 texts (the served template's syntax) split by core's parser.
 * The lookups record the rendered prompt, so the round trip's tool turns are checked against the template's own
 * rendering of GLM-4's forms.
 */
@SpringBootTest(classes = {TestApplication.class, ToolCallsApiTest.ScriptedAnswers.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ToolCallsApiTest {
  /** The tool as the client sends it, in its key order (templates print it as given). */
  @SuppressWarnings("unchecked")
  private static final Map<String, Object> TOOL = (Map<String, Object>) Json.parse("{\"type\": \"function\", "
      + "\"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\", \"properties\": "
      + "{\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}}}}").orElseThrow();
  /** Two GLM-4 calls: the second follows the first's skipped {@code <|assistant|>}. */
  private static final String CALLS = "get_weather\n{\"city\": \"北京\", \"days\": 2}get_weather\n{\"city\": \"上海\"}";
  private static final String FINAL = "北京明天晴。";
  private static final List<String> PROMPTS = new CopyOnWriteArrayList<>();
  private static final AtomicInteger IDS = new AtomicInteger();

  @DynamicPropertySource
  static void model(DynamicPropertyRegistry registry) {
    TestModel.register(registry);
  }

  @TestConfiguration
  static class ScriptedAnswers {
    /** Answers with the two calls, or (once a tool result is in the prompt) with a final text. */
    @Bean
    ResponseCache scriptedAnswers() {
      return (ResponseCache.Key key, java.util.function.Supplier<CompletableFuture<GenerationResult>> generation) -> {
        String prompt = key.promptText().orElseThrow();
        PROMPTS.add(prompt);
        boolean answered = prompt.contains("<|observation|>");
        return CompletableFuture.completedFuture(stored(answered ? FINAL : CALLS,
            answered ? FinishReason.STOP : FinishReason.TOOL_CALLS));
      };
    }
  }

  private static GenerationResult stored(String text, FinishReason reason) {
    AnswerFormat format = AnswerFormat.detect(template().source(), "<|assistant|>", List.of(TOOL), true);
    ParsedAnswer answer = AnswerParser.parse(format, text, () -> "call_" + IDS.incrementAndGet());
    return new GenerationResult("req-stored", List.of(), text, reason, new Usage(1, 1, 0), Optional.empty(),
        Optional.of(answer));
  }

  private static ChatTemplate template() {
    return ChatTemplate.load(TestModel.tokenizer());
  }

  @LocalServerPort int port;
  @Autowired AutoGLMProvider provider;
  @RegisterExtension static final OpenAiTestClient CLIENT = new OpenAiTestClient();
  private static OpenAIClient client;

  @BeforeEach
  void ready() {
    client = CLIENT.ready(provider, port);
  }

  private static ChatCompletionCreateParams.Builder ask() {
    return ChatCompletionCreateParams.builder().model(TestModel.ID).addUserMessage("北京明天天气怎么样？")
        .temperature(0.0).addTool(ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder()
            .name("get_weather").parameters(FunctionParameters.builder()
                .putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty("properties", JsonValue.from(((Map<?, ?>) ((Map<?, ?>) ((Map<?, ?>)
                    TOOL.get("function")).get("parameters")).get("properties")))).build()).build()).build());
  }

  @Test
  void callsStreamedAndNot() {
    List<ToolCall> expected = stored(CALLS, FinishReason.TOOL_CALLS).toolCalls();
    assertThat(expected).hasSize(2);
    ChatCompletion whole = client.chat().completions().create(ask().build());
    assertThat(whole.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
    ChatCompletionMessage m = whole.choices().get(0).message();
    assertThat(m.content()).isEmpty();
    assertThat(nameAndArguments(m)).isEqualTo(nameAndArguments(expected));
    assertThat(PROMPTS.get(PROMPTS.size() - 1)).contains("## get_weather"); // the tools reached the template

    ChatCompletion streamed = stream(ask().build());
    assertThat(streamed.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
    assertThat(nameAndArguments(streamed.choices().get(0).message())).isEqualTo(nameAndArguments(expected));
    assertThat(ids(streamed.choices().get(0).message())).doesNotHaveDuplicates().allMatch(i -> i.startsWith("call_"));
  }

  @Test
  void parallelToolCallsFalseKeepsTheFirstCall() {
    ChatCompletionCreateParams params = ask().parallelToolCalls(false).build();
    List<String> first = nameAndArguments(stored(CALLS, FinishReason.TOOL_CALLS).toolCalls()).subList(0, 1);
    ChatCompletion whole = client.chat().completions().create(params);
    assertThat(nameAndArguments(whole.choices().get(0).message())).isEqualTo(first);
    assertThat(whole.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
    assertThat(nameAndArguments(stream(params).choices().get(0).message())).isEqualTo(first);
  }

  /** The call, its result as {@code role: tool}, and the answer; the prompt holds GLM-4's forms of both turns. */
  @Test
  void toolResultRoundTrip() {
    ChatCompletionMessage call = client.chat().completions().create(ask().parallelToolCalls(false).build())
        .choices().get(0).message();
    ChatCompletionMessageFunctionToolCall c = call.toolCalls().orElseThrow().get(0).asFunction();
    ChatCompletion answer = client.chat().completions().create(ask().addMessage(call)
        .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(c.id()).content("{\"sky\": \"晴\"}").build())
        .build());
    assertThat(answer.choices().get(0).message().content()).contains(FINAL);
    assertThat(answer.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    ChatPrompt glm4 = new ChatPrompt(List.of(ChatMessage.user("北京明天天气怎么样？"),
        new ChatMessage("assistant", c.function().arguments(), Map.of("metadata", "get_weather")),
        new ChatMessage("observation", "{\"sky\": \"晴\"}")), List.of(TOOL), true, Map.of());
    assertThat(PROMPTS.get(PROMPTS.size() - 1)).contains(template().render(glm4));
  }

  private static ChatCompletion stream(ChatCompletionCreateParams params) {
    ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
      s.stream().forEach(acc::accumulate);
    }
    return acc.chatCompletion();
  }

  private static List<String> nameAndArguments(ChatCompletionMessage m) {
    List<String> out = new ArrayList<>();
    for (ChatCompletionMessageToolCall t : m.toolCalls().orElse(List.of())) {
      out.add(t.asFunction().function().name() + " " + t.asFunction().function().arguments());
    }
    return out;
  }

  private static List<String> nameAndArguments(List<ToolCall> calls) {
    return calls.stream().map(t -> t.name() + " " + t.argumentsJson()).toList();
  }

  private static List<String> ids(ChatCompletionMessage m) {
    return m.toolCalls().orElse(List.of()).stream().map(t -> t.asFunction().id()).toList();
  }
}

package io.autoglm;

import io.autoglm.GenerationResult.Usage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.answer.AnswerParser;
import io.autoglm.TextRequest.OutputParsing;
import io.autoglm.toolcall.ParsedAnswer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Answer parsing through the engine: a random model at the real GLM-4 vocabulary emits no real calls, so the
 * reference is the parser itself on the result's raw text (forced calls need constrained decoding, issue 19).
 */
class ParsedChatTest {
  @TempDir static Path dir;
  private static AutoGLM glm;
  private static final List<Map<String, Object>> TOOLS = List.of(Map.of("type", "function", "function",
      Map.of("name", "get_weather", "parameters", Map.of("type", "object"))));

  @BeforeAll
  static void load() {
    Path model = dir.resolve("glm-random");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
        "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16", "max_position_embeddings", "256"),
        1L << 30, 7).write(model, s -> {});
    glm = AutoGLM.builder().modelPath(model).tokenizerPath(Fixtures.root().resolve("tokenizers/glm-4-9b-chat-hf"))
        .kvBlocks(128).build();
  }

  @AfterAll
  static void close() {
    glm.close();
  }

  @Test
  void parsedAnswerIsTheParseOfTheRawTextAndItsDeltasRebuildIt() {
    ChatPrompt chat = new ChatPrompt(List.of(ChatMessage.user("weather?")), TOOLS, true, Map.of());
    TextRequest request = TextRequest.chat(chat, SamplingParams.builder().maxNewTokens(30).ignoreEos(true).build())
        .withParsing(OutputParsing.REASONING_AND_TOOL_CALLS);
    GenerationHandle h = glm.submit(request);
    StringBuilder content = new StringBuilder();
    StringBuilder raw = new StringBuilder();
    for (TokenEvent e : h.blockingTokens()) {
      raw.append(e.text());
      for (AnswerDelta d : e.deltas()) {
        assertTrue(d instanceof AnswerDelta.Content, "a random model's answer has no think block or call: " + d);
        content.append(((AnswerDelta.Content) d).text());
      }
    }
    GenerationResult r = h.result().join();
    AnswerFormat format = AnswerFormat.detect(glm.glmTokenizer().chatTemplate().orElseThrow().source(),
        glm.glmTokenizer().encodeChat(chat).text(), TOOLS, true);
    assertEquals(AnswerFormat.Syntax.GLM4_JSON, format.syntax());
    ParsedAnswer expected = AnswerParser.parse(format, r.text());
    assertEquals(expected, r.answer().orElseThrow());
    assertEquals(raw.toString(), r.text());
    assertEquals(expected.content(), content.toString());
    assertEquals(expected.content(), r.content());
    assertNotEquals(FinishReason.TOOL_CALLS, r.finishReason());
  }

  @Test
  void completionsStayRawAndCannotAskForParsing() {
    GenerationResult r = glm.complete("hello", SamplingParams.builder().maxNewTokens(4).ignoreEos(true).build());
    assertTrue(r.answer().isEmpty());
    assertEquals(r.text(), r.content());
    assertThrows(IllegalArgumentException.class, () -> TextRequest.completion("x", SamplingParams.greedy(4))
        .withParsing(OutputParsing.REASONING));
  }

  @Test
  void toolCallsFinishNeedsCalls() {
    assertThrows(IllegalArgumentException.class, () -> new GenerationResult("r", List.of(), "", FinishReason.TOOL_CALLS,
        new Usage(1, 0, 0)));
    assertEquals("tool_calls", FinishReason.TOOL_CALLS.openAiName());
  }
}

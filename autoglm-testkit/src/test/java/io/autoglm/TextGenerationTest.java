package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.testkit.RandomCheckpoint;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text in, text out, end to end: a random model at the real GLM-4 vocabulary with the real tokenizer. */
class TextGenerationTest {
  @TempDir static Path dir;
  private static AutoGLM glm;

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

  private static SamplingParams greedy(int n) {
    return SamplingParams.builder().maxNewTokens(n).ignoreEos(true).build();
  }

  @Test
  void streamedDeltasAddUpToTheResultText() {
    GenerationHandle h = glm.submit(TextRequest.completion("你好，世界 🌍 hello", greedy(40)));
    StringBuilder streamed = new StringBuilder();
    for (TokenEvent e : h.blockingTokens()) {
      streamed.append(e.text());
    }
    GenerationResult r = h.result().join();
    assertEquals(r.text(), streamed.toString());
    assertEquals(glm.glmTokenizer().decode(r.tokenIds().stream().mapToInt(Integer::intValue).toArray(), true), r.text());
    assertEquals(40, r.tokenIds().size());
  }

  @Test
  void stopStringEndsTheStreamAndIsNotEmitted() {
    GenerationResult free = glm.complete("The answer is", greedy(30));
    String text = free.text();
    assertTrue(text.length() > 6, text);
    // a stop string from the middle of the output, spanning a token boundary when possible
    String stop = text.substring(text.length() / 2, text.length() / 2 + 3);
    int at = text.indexOf(stop);
    GenerationHandle h = glm.submit(TextRequest.completion("The answer is",
        SamplingParams.builder().maxNewTokens(30).ignoreEos(true).stop(List.of(stop)).build()));
    StringBuilder streamed = new StringBuilder();
    h.onToken(e -> streamed.append(e.text()));
    GenerationResult r = h.result().join();
    assertEquals(FinishReason.STOP, r.finishReason());
    assertEquals(text.substring(0, at), r.text());
    assertFalse(r.text().contains(stop));
    assertTrue(r.tokenIds().size() < 30);
  }

  @Test
  void chatUsesTheTemplateAndKeepsRoleMarkersInContentAsText() {
    ChatPrompt chat = ChatPrompt.of(List.of(ChatMessage.user("hi <|assistant|> there")));
    int[] ids = glm.glmTokenizer().encodeChat(chat).ids();
    assertEquals(1, java.util.Arrays.stream(ids).filter(i -> i == 151337).count(), "only the generation prompt");
    GenerationResult r = glm.chat(chat, greedy(8));
    assertEquals(ids.length, r.usage().promptTokens());
    assertEquals(8, r.usage().completionTokens());
  }

  @Test
  void kvBlocksRefusesValuesThatCannotHoldAToken() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AutoGLM.builder().kvBlocks(0));
    assertTrue(e.getMessage().startsWith("kvBlocks (0) must be >= 2"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> AutoGLM.builder().kvBlocks(1));
  }

  @Test
  void overLongPromptFailsBeforeAnyCompute() {
    long steps = glm.stats().steps();
    String longText = "word ".repeat(400);
    ContextLengthExceededException e = assertThrows(ContextLengthExceededException.class,
        () -> glm.complete(longText, greedy(4)));
    assertTrue(e.getMessage().contains("256"), e.getMessage());
    assertEquals(glm.glmTokenizer().encode(longText).length, e.promptTokens());
    assertEquals(256, e.maxModelLen());
    assertEquals(steps, glm.stats().steps());
    // far too long to tokenize at all: refused from its byte count, and the bound it gives holds
    String huge = "x".repeat(256 * glm.glmTokenizer().maxTokenBytes() + 1);
    ContextLengthExceededException fromBytes = assertThrows(ContextLengthExceededException.class,
        () -> glm.chat(ChatPrompt.of(List.of(ChatMessage.user(huge))), greedy(4)));
    assertTrue(fromBytes.getMessage().contains("bytes of text"), fromBytes.getMessage());
    assertTrue(fromBytes.promptTokens() <= glm.glmTokenizer().encode(huge).length, "a lower bound");
    assertEquals(steps, glm.stats().steps());
    assertThrows(IllegalArgumentException.class, () -> glm.chat(ChatPrompt.of(List.of()), greedy(4)));
  }
}

package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.testkit.RandomCheckpoint;
import io.autoglm.spi.EngineMetrics;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request that fails on its own ends alone, and ids the tokenizer cannot decode are never generated. References:
 * the same requests run alone (isolation), and the tokenizer's id range (masking).
 */
class FailureIsolationTest {
  private static final List<List<Integer>> PROMPTS = List.of(List.of(5, 17, 99), List.of(200, 3, 44, 8, 1),
      List.of(301), List.of(12, 12, 12, 250));

  private static SamplingParams greedy(int n) {
    return SamplingParams.builder().maxNewTokens(n).ignoreEos(true).build();
  }

  /** Throws from the k-th first-token callback: a failure that belongs to one request's handling. */
  private static final class FailingMetrics implements EngineMetrics {
    private final AtomicInteger firstTokens = new AtomicInteger();
    private final int failOn;

    FailingMetrics(int failOn) {
      this.failOn = failOn;
    }

    @Override
    public void onFirstToken(String operationName, long timeToFirstTokenNanos) {
      if (firstTokens.incrementAndGet() == failOn) {
        throw new IllegalStateException("metrics backend down");
      }
    }
  }

  @Test
  void aRequestWhoseHandlingThrowsEndsAloneWithErrorAndTheBatchGoesOn() {
    Path model = Fixtures.model("glm4-tiny");
    List<GenerationResult> alone = new ArrayList<>();
    try (AutoGLM glm = AutoGLM.builder().modelPath(model).kvBlocks(64).build()) {
      for (List<Integer> p : PROMPTS) {
        alone.add(glm.generate(p, greedy(12)));
      }
    }
    try (AutoGLM glm = AutoGLM.builder().modelPath(model).kvBlocks(64).metrics(new FailingMetrics(2)).build()) {
      List<GenerationHandle> handles = PROMPTS.stream().map(p -> glm.submit(p, greedy(12))).toList();
      List<GenerationResult> together = handles.stream().map(h -> h.result().join()).toList();
      int failed = 0;
      for (int i = 0; i < PROMPTS.size(); i++) {
        GenerationResult r = together.get(i);
        if (r.finishReason() == FinishReason.ERROR) {
          failed++;
          assertTrue(r.error().orElseThrow().contains("metrics backend down"), r.error().toString());
          assertTrue(r.tokenIds().size() <= 1, "it ended at its first token: " + r.tokenIds());
        } else {
          assertEquals(FinishReason.LENGTH, r.finishReason());
          assertEquals(alone.get(i).tokenIds(), r.tokenIds(), "request " + i + " as when run alone");
        }
      }
      assertEquals(1, failed, "exactly the request whose callback threw failed: " + together);
      assertEquals(0, glm.stats().running());
      assertEquals(0.0, glm.stats().kvUsage(), "every block was freed");
      // the engine still serves
      assertEquals(alone.get(0).tokenIds(), glm.generate(PROMPTS.get(0), greedy(12)).tokenIds());
    }
  }

  @Test
  void idsTheTokenizerHasNoTextForAreNeverGenerated(@TempDir Path dir) throws IOException {
    Path model = dir.resolve("glm-random");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "1", "hidden_size", "64",
        "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16", "max_position_embeddings", "256"),
        1L << 30, 3).write(model, s -> {});
    try (AutoGLM glm = AutoGLM.builder().modelPath(model)
        .tokenizerPath(Fixtures.root().resolve("tokenizers/glm-4-9b-chat-hf")).kvBlocks(64).build()) {
      int textIds = glm.glmTokenizer().vocabSize();
      assertTrue(textIds < glm.config().vocabSize(), "the model has rows the tokenizer has no id for");
      // Zero the LM head's rows of every id with text: those logits are all 0, the others random, so an unmasked
      // argmax picks an id past the tokenizer's range at every step.
      zeroRows(shardOf(model, "lm_head.weight"), "lm_head.weight", 0, textIds);
    }
    try (AutoGLM glm = AutoGLM.builder().modelPath(model)
        .tokenizerPath(Fixtures.root().resolve("tokenizers/glm-4-9b-chat-hf")).kvBlocks(64).build()) {
      int textIds = glm.glmTokenizer().vocabSize();
      GenerationResult greedy = glm.complete("hello", greedy(16));
      assertEquals(16, greedy.tokenIds().size());
      assertTrue(greedy.tokenIds().stream().allMatch(id -> id == 0), "argmax over the ids with text (all 0): "
          + greedy.tokenIds());
      for (int seed = 0; seed < 4; seed++) {
        GenerationResult r = glm.complete("hello", SamplingParams.builder().maxNewTokens(32).ignoreEos(true)
            .temperature(1.0).seed(seed).build());
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertTrue(r.tokenIds().stream().allMatch(id -> id < textIds), r.tokenIds().toString());
      }
      assertFalse(glm.stats().running() > 0);
    }
  }

  private static Path shardOf(Path model, String tensor) throws IOException {
    JsonObject index = JsonParser.parseString(java.nio.file.Files.readString(
        model.resolve("model.safetensors.index.json"))).getAsJsonObject();
    return model.resolve(index.getAsJsonObject("weight_map").get(tensor).getAsString());
  }

  /** Overwrites rows [from, to) of a 2-D tensor with zeros, in place. */
  private static void zeroRows(Path file, String tensor, int from, int to) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(len, 0);
      int headerLen = (int) len.getLong(0);
      ByteBuffer header = ByteBuffer.allocate(headerLen);
      ch.read(header, 8);
      JsonObject t = JsonParser.parseString(new String(header.array(), StandardCharsets.UTF_8)).getAsJsonObject()
          .getAsJsonObject(tensor);
      long start = t.getAsJsonArray("data_offsets").get(0).getAsLong();
      long end = t.getAsJsonArray("data_offsets").get(1).getAsLong();
      long rows = t.getAsJsonArray("shape").get(0).getAsLong();
      long rowBytes = (end - start) / rows;
      ByteBuffer zeros = ByteBuffer.allocate((int) (rowBytes * (to - from)));
      ch.write(zeros, 8 + headerLen + start + rowBytes * from);
    }
  }
}

package io.autoglm.model;

import io.autoglm.testkit.ReferenceSet;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.Fixtures;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.safetensors.Checkpoint;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The decoder gives the same logits whatever the KV block size, the block placement and the prefill chunking:
 * against the single-step, one-block run (≤ 1e-5), and against transformers (≤ 1e-4).
 */
class PagedEquivalenceTest {
  @ParameterizedTest
  @ValueSource(strings = {"glm-tiny", "glm4-tiny", "glm4-tiny-bf16", "glm4-gqa24-bf16"})
  void blockSizesAndChunkingAgree(String name) {
    var dir = Fixtures.model(name);
    ModelConfig c = ModelConfig.load(dir);
    ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
    try (var backend = new DjlCpuBackend(); var ckpt = Checkpoint.open(dir)) {
      GlmModel model = GlmModel.load(c, ckpt, backend, LoadProgress.none());
      for (ReferenceSet.Prompt p : ref.prompts()) {
        int[] tokens = p.teacherForced();
        float[][] baseline = run(backend, model, tokens, 256, List.of(tokens.length), new Random(0));
        assertClose(p.logits(), baseline, 0, 1e-4, name + " vs transformers");
        for (int t = 0; t < p.greedy().length; t++) {
          assertClose(new float[][] {p.greedyLogits()[t]}, new float[][] {baseline[p.inputIds().length - 1 + t]}, 0,
              1e-4, name + " teacher-forced step " + t);
        }
        for (int blockSize : new int[] {1, 16, 256}) {
          for (List<Integer> chunks : List.of(List.of(tokens.length), split(tokens.length, 7, 1))) {
            float[][] got = run(backend, model, tokens, blockSize, chunks, new Random(blockSize));
            assertClose(baseline, got, 0, 1e-5, name + " p" + p.index() + " block " + blockSize + " chunks " + chunks);
          }
        }
      }
    }
  }

  /** {first, second, rest}, dropping empty parts. */
  private static List<Integer> split(int n, int first, int second) {
    List<Integer> out = new ArrayList<>();
    int a = Math.min(first, n);
    out.add(a);
    int b = Math.min(second, n - a);
    if (b > 0) {
      out.add(b);
    }
    if (n - a - b > 0) {
      out.add(n - a - b);
    }
    return out;
  }

  /** Feeds {@code tokens} in chunks through a KV cache whose blocks are shuffled; returns every position's logits. */
  static float[][] run(DjlCpuBackend backend, GlmModel model, int[] tokens, int blockSize,
      List<Integer> chunks, Random random) {
    int blocksNeeded = (tokens.length + blockSize - 1) / blockSize;
    List<Integer> ids = new ArrayList<>();
    for (int b = 1; b <= blocksNeeded + 3; b++) {
      ids.add(b);
    }
    Collections.shuffle(ids, random);
    int[] table = ids.subList(0, blocksNeeded).stream().mapToInt(Integer::intValue).toArray();
    return StepRunner.chunked(model, backend, tokens, blockSize, table, blocksNeeded + 4,
        chunks.stream().mapToInt(Integer::intValue).toArray());
  }

  static void assertClose(float[][] expected, float[][] actual, int offset, double tol, String what) {
    double max = 0;
    for (int r = 0; r < expected.length; r++) {
      for (int v = 0; v < expected[r].length; v++) {
        max = Math.max(max, Math.abs(expected[r][v] - actual[r + offset][v]));
      }
    }
    assertTrue(max <= tol, what + ": max |Δlogit| " + max + " > " + tol);
  }
}

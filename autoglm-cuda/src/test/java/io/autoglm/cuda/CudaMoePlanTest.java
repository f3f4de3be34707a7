package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoglm.backend.MoeRouter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The host plan (the reference the device plan is checked against on the GPU): MoeRouter's choices, the pairs sorted
 * by expert and, within an expert, by token-major pair index, against a plain sort of (expert, pair).
 */
class CudaMoePlanTest {
  @Test
  void thePlanIsAStableSortOfThePairsByExpert() {
    MoeRouter r = new MoeRouter(16, 4, 4, 2, true, 2.5);
    SplittableRandom random = new SplittableRandom(3);
    int tokens = 9;
    float[] logits = new float[tokens * 16];
    float[] bias = new float[16];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (float) random.nextGaussian();
    }
    for (int i = 0; i < bias.length; i++) {
      bias[i] = (float) (random.nextDouble() * 0.2 - 0.1);
    }
    CudaMoe.Plan p = CudaMoe.plan(logits, tokens, bias, r);
    List<int[]> pairs = new ArrayList<>(); // {expert, pair}
    List<Float> weights = new ArrayList<>();
    for (int t = 0; t < tokens; t++) {
      float[] row = java.util.Arrays.copyOfRange(logits, t * 16, (t + 1) * 16);
      MoeRouter.Choice c = r.route(row, bias);
      for (int j = 0; j < 4; j++) {
        pairs.add(new int[] {c.experts()[j], t * 4 + j});
        weights.add(c.weights()[j]);
      }
    }
    pairs.sort(Comparator.<int[]>comparingInt(a -> a[0]).thenComparingInt(a -> a[1]));
    List<Integer> ids = new ArrayList<>();
    List<Integer> offsets = new ArrayList<>();
    int largest = 0;
    for (int row = 0; row < pairs.size(); row++) {
      int[] x = pairs.get(row);
      assertEquals(x[1] / 4, p.tokenOfRow()[row], "token of row " + row);
      assertEquals(row, p.rowOfPair()[x[1]], "row of pair " + x[1]);
      assertEquals(weights.get(x[1]), p.pairWeight()[x[1]], 0f);
      if (row == 0 || pairs.get(row - 1)[0] != x[0]) {
        ids.add(x[0]);
        offsets.add(row);
      }
      largest = Math.max(largest, row - offsets.get(offsets.size() - 1) + 1);
    }
    offsets.add(pairs.size());
    assertArrayEquals(ids.stream().mapToInt(Integer::intValue).toArray(), p.expertIds());
    assertArrayEquals(offsets.stream().mapToInt(Integer::intValue).toArray(), p.offsets());
    assertEquals(largest, p.maxRows());
  }

  @Test
  void logitsOfTheWrongLengthAreRejectedWithTheCounts() {
    MoeRouter r = new MoeRouter(8, 2, 1, 1, true, 1.0);
    var e = assertThrows(IllegalArgumentException.class, () -> CudaMoe.plan(new float[15], 2, new float[8], r));
    assertEquals("plan: 15 logits and 8 biases for 2 tokens of 8 experts (expected tokens × experts logits and one "
        + "bias per expert)", e.getMessage());
  }
}

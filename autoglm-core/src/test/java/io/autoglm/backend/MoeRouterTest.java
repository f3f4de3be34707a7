package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Hand-computed routing cases; sigmoid(0) = 0.5, sigmoid(1) = 0.7310586, sigmoid(2) = 0.8807971. Transformers' own
 * routing decisions, ties included, are checked in {@link MoeRouterTransformersTest}.
 */
class MoeRouterTest {
  private static final float S1 = 0.7310586f;
  private static final float S2 = 0.8807971f;

  /** Logits of 0 give unbiased scores of exactly 0.5; the bias then sets each expert's biased score. */
  private static float[] biasFor(float... biased) {
    float[] bias = new float[biased.length];
    for (int i = 0; i < biased.length; i++) {
      bias[i] = biased[i] - 0.5f;
    }
    return bias;
  }

  /** The chosen experts as a set (ascending), and each one's weight in that order. */
  private static int[] set(MoeRouter.Choice c) {
    int[] s = c.experts().clone();
    java.util.Arrays.sort(s);
    return s;
  }

  private static float weightOf(MoeRouter.Choice c, int expert) {
    for (int j = 0; j < c.experts().length; j++) {
      if (c.experts()[j] == expert) {
        return c.weights()[j];
      }
    }
    throw new AssertionError("expert " + expert + " not chosen: " + java.util.Arrays.toString(c.experts()));
  }

  @Test
  void picksTheTopScoresAndNormalisesThenScales() {
    MoeRouter r = new MoeRouter(4, 2, 1, 1, true, 1.5);
    // scores: [0.5, 0.731, 0.269, 0.881] -> experts 3 and 1
    MoeRouter.Choice c = r.route(new float[] {0, 1, -1, 2}, new float[4]);
    assertArrayEquals(new int[] {1, 3}, set(c));
    float sum = S1 + S2;
    assertEquals(S1 / sum * 1.5f, weightOf(c, 1), 1e-6);
    assertEquals(S2 / sum * 1.5f, weightOf(c, 3), 1e-6);
  }

  @Test
  void biasChoosesButWeightsComeFromUnbiasedScores() {
    MoeRouter r = new MoeRouter(4, 2, 1, 1, true, 1.0);
    // biased: [0.5 + 0.5, 0.731, 0.269, 0.881] -> experts 0 and 3; weights from 0.5 and 0.881
    MoeRouter.Choice c = r.route(new float[] {0, 1, -1, 2}, new float[] {0.5f, 0, 0, 0});
    assertArrayEquals(new int[] {0, 3}, set(c));
    assertEquals(0.5f / (0.5f + S2), weightOf(c, 0), 1e-6);
    assertEquals(S2 / (0.5f + S2), weightOf(c, 3), 1e-6);
  }

  @Test
  void withoutNormalisationWeightsAreScaledScores() {
    MoeRouter r = new MoeRouter(4, 2, 1, 1, false, 2.5);
    MoeRouter.Choice c = r.route(new float[] {0, 1, -1, 2}, new float[4]);
    assertArrayEquals(new int[] {1, 3}, set(c));
    assertEquals(S1 * 2.5f, weightOf(c, 1), 1e-6);
    assertEquals(S2 * 2.5f, weightOf(c, 3), 1e-6);
  }

  @Test
  void tiesAreBrokenAsTorchTopkBreaksThemOnTheCpu() {
    MoeRouter r = new MoeRouter(6, 3, 1, 1, true, 1.0);
    // biased scores [0, 0, 0, -0.0016, 0.19, 0.73] and [-0.01, 0.2, 0.7, 0, 0, 0] (logits 0, so scores 0.5):
    // torch.topk(k=3, sorted=False) on the CPU returns [5, 4, 1] and [1, 2, 5] (issue 17), in that order.
    MoeRouter.Choice c = r.route(new float[6], biasFor(0, 0, 0, -0.0016f, 0.19f, 0.73f));
    assertArrayEquals(new int[] {5, 4, 1}, c.experts());
    assertArrayEquals(new float[] {1 / 3f, 1 / 3f, 1 / 3f}, c.weights(), 1e-6f);
    assertArrayEquals(new int[] {1, 2, 5}, r.route(new float[6], biasFor(-0.01f, 0.2f, 0.7f, 0, 0, 0)).experts());
  }

  @Test
  void groupsAreRatedByTheirTwoBestBiasedScores() {
    MoeRouter r = new MoeRouter(8, 2, 4, 2, true, 2.5);
    // group sums: g0 0.9+0.1 = 1.0, g1 0.6+0.6 = 1.2, g2 0.55+0.55 = 1.1, g3 0.4 -> keep g1, g2.
    // Expert 0 has the best single score but its group loses; the winners are 2 and 3.
    float[] bias = biasFor(0.9f, 0.1f, 0.6f, 0.6f, 0.55f, 0.55f, 0.2f, 0.2f);
    MoeRouter.Choice c = r.route(new float[8], bias);
    assertArrayEquals(new int[] {2, 3}, set(c));
    assertArrayEquals(new float[] {1.25f, 1.25f}, c.weights(), 1e-6f);
  }

  @Test
  void aGroupTieOfThreeGroupsKeepsTheFirst() {
    MoeRouter r = new MoeRouter(6, 2, 3, 1, false, 1.0);
    // groups of two: sums exactly 1.0, 1.0, 0.75. With 3 values std::nth_element is an insertion sort, which leaves
    // equal values in index order: torch keeps g0.
    float[] bias = biasFor(0.25f, 0.75f, 0.5f, 0.5f, 0.375f, 0.375f);
    MoeRouter.Choice c = r.route(new float[6], bias);
    assertArrayEquals(new int[] {0, 1}, set(c));
  }

  @Test
  void expertsOfDroppedGroupsAreMaskedWithMinusInfinityAsInTransformers5() {
    MoeRouter r = new MoeRouter(4, 2, 2, 1, true, 1.0);
    // g0: 0.9 + (-0.8) = 0.1 beats g1: 0.05 + 0.02 = 0.07. Candidates [0.9, -0.8, -inf, -inf]: expert 1's negative
    // biased score wins over the dropped group (transformers 4.x's 0.0 mask would have chosen expert 2 or 3).
    float[] bias = biasFor(0.9f, -0.8f, 0.05f, 0.02f);
    MoeRouter.Choice c = r.route(new float[4], bias);
    assertArrayEquals(new int[] {0, 1}, set(c));
    assertArrayEquals(new float[] {0.5f, 0.5f}, c.weights(), 1e-6f);
  }

  @Test
  void rejectsInconsistentSettingsNamingTheFields() {
    var e = assertThrows(IllegalArgumentException.class, () -> new MoeRouter(8, 9, 1, 1, true, 1));
    assertTrue(e.getMessage().contains("num_experts_per_tok (9)"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MoeRouter(8, 2, 3, 1, true, 1));
    assertTrue(e.getMessage().contains("n_group (3)"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MoeRouter(8, 2, 4, 5, true, 1));
    assertTrue(e.getMessage().contains("topk_group (5)"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MoeRouter(8, 2, 8, 2, true, 1));
    assertTrue(e.getMessage().contains("n_routed_experts (8) / n_group (8) must be >= 2"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MoeRouter(4, 2, 1, 1, true, 1).route(new float[3],
        new float[4]));
    assertTrue(e.getMessage().contains("router logits (3)"), e.getMessage());
  }
}

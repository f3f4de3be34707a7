package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Hand-computed routing cases; sigmoid(0) = 0.5, sigmoid(1) = 0.7310586, sigmoid(2) = 0.8807971. */
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

  @Test
  void picksTheTopScoresAndNormalisesThenScales() {
    MoeRouter r = new MoeRouter(4, 2, 1, 1, true, 1.5);
    // scores: [0.5, 0.731, 0.269, 0.881] -> experts 3 and 1, reported ascending
    MoeRouter.Choice c = r.route(new float[] {0, 1, -1, 2}, new float[4]);
    assertArrayEquals(new int[] {1, 3}, c.experts());
    float sum = S1 + S2;
    assertEquals(S1 / sum * 1.5f, c.weights()[0], 1e-6);
    assertEquals(S2 / sum * 1.5f, c.weights()[1], 1e-6);
  }

  @Test
  void biasChoosesButWeightsComeFromUnbiasedScores() {
    MoeRouter r = new MoeRouter(4, 2, 1, 1, true, 1.0);
    // biased: [0.5 + 0.5, 0.731, 0.269, 0.881] -> experts 0 and 3; weights from 0.5 and 0.881
    MoeRouter.Choice c = r.route(new float[] {0, 1, -1, 2}, new float[] {0.5f, 0, 0, 0});
    assertArrayEquals(new int[] {0, 3}, c.experts());
    assertEquals(0.5f / (0.5f + S2), c.weights()[0], 1e-6);
    assertEquals(S2 / (0.5f + S2), c.weights()[1], 1e-6);
  }

  @Test
  void withoutNormalisationWeightsAreScaledScores() {
    MoeRouter r = new MoeRouter(4, 2, 1, 1, false, 2.5);
    MoeRouter.Choice c = r.route(new float[] {0, 1, -1, 2}, new float[4]);
    assertArrayEquals(new int[] {1, 3}, c.experts());
    assertEquals(S1 * 2.5f, c.weights()[0], 1e-6);
    assertEquals(S2 * 2.5f, c.weights()[1], 1e-6);
  }

  @Test
  void tiesGoToTheLowerExpertIndex() {
    MoeRouter r = new MoeRouter(6, 3, 1, 1, true, 1.0);
    // all scores 0.5 except expert 4 (0.881): expert 4 first, then the tie among 0,1,2,3,5 -> 0 and 1
    MoeRouter.Choice c = r.route(new float[] {0, 0, 0, 0, 2, 0}, new float[6]);
    assertArrayEquals(new int[] {0, 1, 4}, c.experts());
    assertEquals(0.5f / (1 + S2), c.weights()[0], 1e-6);
    assertEquals(S2 / (1 + S2), c.weights()[2], 1e-6);
  }

  @Test
  void groupsAreRatedByTheirTwoBestBiasedScores() {
    MoeRouter r = new MoeRouter(8, 2, 4, 2, true, 2.5);
    // group sums: g0 0.9+0.1 = 1.0, g1 0.6+0.6 = 1.2, g2 0.55+0.55 = 1.1, g3 0.4 -> keep g1, g2.
    // Expert 0 has the best single score but its group loses; the winners are 2 and 3 (tie with 4, 5).
    float[] bias = biasFor(0.9f, 0.1f, 0.6f, 0.6f, 0.55f, 0.55f, 0.2f, 0.2f);
    MoeRouter.Choice c = r.route(new float[8], bias);
    assertArrayEquals(new int[] {2, 3}, c.experts());
    assertArrayEquals(new float[] {1.25f, 1.25f}, c.weights(), 1e-6f);
  }

  @Test
  void groupTiesGoToTheLowerGroup() {
    MoeRouter r = new MoeRouter(6, 2, 3, 1, false, 1.0);
    // groups of two: sums 1.0, 1.0, 0.8 -> keep g0 (the tie with g1 goes to the lower group)
    float[] bias = biasFor(0.3f, 0.7f, 0.5f, 0.5f, 0.4f, 0.4f);
    MoeRouter.Choice c = r.route(new float[6], bias);
    assertArrayEquals(new int[] {0, 1}, c.experts());
  }

  @Test
  void expertsOfDroppedGroupsCompeteWithScoreZeroAsInTransformers() {
    MoeRouter r = new MoeRouter(4, 2, 2, 1, true, 1.0);
    // g0: 0.9 + (-0.8) = 0.1 beats g1: 0.05 + 0.02 = 0.07. Candidates [0.9, -0.8, 0, 0]: expert 1's negative
    // biased score loses to the masked 0.0 of expert 2 (tie with 3 -> lower index).
    float[] bias = biasFor(0.9f, -0.8f, 0.05f, 0.02f);
    MoeRouter.Choice c = r.route(new float[4], bias);
    assertArrayEquals(new int[] {0, 2}, c.experts());
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
    e = assertThrows(IllegalArgumentException.class, () -> new MoeRouter(4, 2, 1, 1, true, 1).route(new float[3],
        new float[4]));
    assertTrue(e.getMessage().contains("router logits (3)"), e.getMessage());
  }
}

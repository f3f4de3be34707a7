package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.backend.MoeRouter;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The device routing's exact-tie path (moe_route.cu's TorchTopK port, group masking and weights), compiled for the
 * host from the same source, against {@link MoeRouter#route} (whose {@code TorchTopK} is checked against torch 2.11
 * itself): the same experts in the same order and bit-equal weights, on rows full of exact ties, for torch's two
 * selection paths (nth_element when k·64 > n, partial_sort otherwise) and group-limited routers. Needs the native
 * library, not a device.
 */
class MoeRouteSerialTest {
  private static final MoeRouter[] ROUTERS = {
      new MoeRouter(128, 8, 1, 1, true, 1.0), // GLM-4.5-Air: nth_element
      new MoeRouter(128, 2, 1, 1, true, 1.0), // 2·64 <= 128: partial_sort (heap select + sort_heap)
      new MoeRouter(160, 8, 1, 1, true, 2.5), // GLM-4.5
      new MoeRouter(256, 8, 8, 4, true, 2.5), // DeepSeek-V3-like groups
      new MoeRouter(16, 4, 4, 2, true, 2.5), // glm4moe-grouped-ties
      new MoeRouter(8, 3, 4, 2, false, 2.5), // glm4moe-variant-tiny
      new MoeRouter(32, 32, 1, 1, true, 1.0), // every expert, the largest top-k the kernels take
      new MoeRouter(3, 1, 1, 1, false, 1.0), // fewer than 4: insertion sort only
  };

  @Test
  void theHostBuildOfTheTiePathChoosesWhatMoeRouterChooses() {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    SplittableRandom random = new SplittableRandom(11);
    for (MoeRouter r : ROUTERS) {
      for (int i = 0; i < 300; i++) {
        int e = r.numExperts();
        float[] logits = new float[e];
        float[] bias = new float[e];
        int kind = i % 3; // 0: few distinct values (ties everywhere), 1: some ties, 2: random (ties unlikely)
        for (int x = 0; x < e; x++) {
          logits[x] = kind == 0 ? 0.5f * (random.nextInt(3) - 1) : kind == 1 ? 0.25f * (random.nextInt(9) - 4)
              : (float) random.nextGaussian() * 3;
          bias[x] = kind == 2 ? (float) (random.nextDouble() * 0.2 - 0.1) : 0.125f * random.nextInt(2);
        }
        MoeRouter.Choice want = r.route(logits, bias);
        int[] experts = new int[r.topK()];
        float[] weights = new float[r.topK()];
        assertTrue(CudaSelfTests.routeSerialHost(logits, bias, r.topK(), r.numGroups(), r.topKGroups(),
            r.normalizeTopK(), (float) r.scalingFactor(), experts, weights), r::toString);
        String where = r + " row " + i + ": logits " + Arrays.toString(logits) + " bias " + Arrays.toString(bias);
        assertArrayEquals(want.experts(), experts, where);
        assertArrayEquals(want.weights(), weights, 0f, where);
      }
    }
  }

  @Test
  void aNanLogitIsChosenFirstAsTorchDoes() {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    MoeRouter r = new MoeRouter(8, 2, 1, 1, false, 1.0);
    float[] logits = {0.1f, Float.NaN, 0.3f, 0.2f, -1f, 2f, 0f, 0f};
    float[] bias = new float[8];
    int[] experts = new int[2];
    float[] weights = new float[2];
    assertTrue(CudaSelfTests.routeSerialHost(logits, bias, 2, 1, 1, false, 1f, experts, weights));
    assertArrayEquals(r.route(logits, bias).experts(), experts);
  }

  @Test
  void aRouterOutsideTheLimitsIsDeclined() {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    float[] big = new float[1024]; // more experts than moe_route.cu's shared memory takes
    assertFalse(CudaSelfTests.routeSerialHost(big, big.clone(), 8, 1, 1, true, 1f, new int[8], new float[8]));
    float[] small = new float[8];
    assertFalse(CudaSelfTests.routeSerialHost(small, small.clone(), 3, 3, 1, true, 1f, new int[3], new float[3]),
        "8 experts do not split into 3 groups");
  }
}

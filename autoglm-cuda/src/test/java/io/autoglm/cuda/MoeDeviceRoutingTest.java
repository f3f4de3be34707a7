package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.backend.MoeRouter;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * When a MoE layer routes on the device: the documented rule (docs/cuda.md: cuda.moeDeviceRouting, steps of at most
 * 256 rows, at most 512 experts, top-32 and 32 groups, widths multiples of 8). Needs the native library for the
 * kernels' limits, not a device.
 */
class MoeDeviceRoutingTest {
  private static final MoeRouter AIR = new MoeRouter(128, 8, 1, 1, true, 1.0);

  @Test
  void theKernelsLimitsAreTheDocumentedOnes() {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    assertArrayEquals(new int[] {512, 32, 32}, CudaNative.moeRouteLimits());
  }

  @Test
  void routersWithinTheLimitsRouteOnTheDeviceOthersOnTheHost() {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    assertTrue(MoeDeviceRouting.supports(AIR, 4096, 1408));
    assertTrue(MoeDeviceRouting.supports(new MoeRouter(512, 32, 32, 4, true, 1.0), 8, 8));
    assertFalse(MoeDeviceRouting.supports(new MoeRouter(1024, 8, 1, 1, true, 1.0), 4096, 1408), "1,024 experts");
    assertFalse(MoeDeviceRouting.supports(new MoeRouter(128, 33, 1, 1, true, 1.0), 4096, 1408), "top-33");
    assertFalse(MoeDeviceRouting.supports(new MoeRouter(128, 8, 64, 8, true, 1.0), 4096, 1408), "64 groups");
    assertFalse(MoeDeviceRouting.supports(AIR, 4100, 1408), "hidden not a multiple of 8");
    assertFalse(MoeDeviceRouting.supports(AIR, 4096, 1404), "expert width not a multiple of 8");
  }

  @Test
  void stepsUpToTheLargestDecodeBucketRouteOnTheDeviceUnlessSwitchedOff() {
    CudaSettings on = CudaSettings.from(Map.of());
    assertTrue(MoeDeviceRouting.applies(on, 1));
    assertTrue(MoeDeviceRouting.applies(on, CudaForwardStep.bucket(256)));
    assertFalse(MoeDeviceRouting.applies(on, 257), "a 257-row step (prefill) takes the host plan");
    assertFalse(MoeDeviceRouting.applies(CudaSettings.from(Map.of("cuda.moeDeviceRouting", "false")), 1));
  }
}

package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The activation arena's default follows the engine's step estimate within the stated limits. */
class DefaultArenaTest {
  private static final long GB = 1L << 30;

  @Test
  void withoutAHintItIsTheSmallerOf8GbAnd15PercentOfFreeMemory() {
    assertEquals(8 * GB, CudaBackend.defaultArena(139 * GB, null));
    assertEquals((long) (20 * GB * 0.15), CudaBackend.defaultArena(20 * GB, null));
  }

  @Test
  void aLargerStepRaisesItTo110PercentOfTheStep() {
    assertEquals((long) (12 * GB * 1.1), CudaBackend.defaultArena(139 * GB, Long.toString(12 * GB)));
  }

  @Test
  void aSmallerStepKeepsTheDefault() {
    assertEquals(8 * GB, CudaBackend.defaultArena(139 * GB, Long.toString(GB)));
  }

  @Test
  void neverMoreThanHalfOfFreeMemory() {
    assertEquals(20 * GB, CudaBackend.defaultArena(40 * GB, Long.toString(100 * GB)));
  }
}

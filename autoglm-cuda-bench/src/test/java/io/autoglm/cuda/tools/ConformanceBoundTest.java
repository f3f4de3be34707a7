package io.autoglm.cuda.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link ConformanceBound.Fp8}: max(fixed, 1.5 × bf16 spread), the spread held to the fixed tolerance. */
class ConformanceBoundTest {
  @Test
  void aSpreadBelowTwoThirdsOfTheFixedToleranceLeavesTheFixedBound() {
    ConformanceBound.Fp8 b = ConformanceBound.Fp8.of(2e-2, 1.2e-2);
    assertEquals(2e-2, b.bound());
    assertTrue(b.holds(2e-2));
    assertFalse(b.holds(2.01e-2));
  }

  @Test
  void aLargerSpreadRaisesTheBoundToOneAndAHalfTimesIt() {
    // variant-tiny's case: FP8 decode rel 2.02e-2 against a fixed 2e-2, bf16 spread 1.6e-2 -> bound 2.4e-2
    ConformanceBound.Fp8 b = ConformanceBound.Fp8.of(2e-2, 1.6e-2);
    assertEquals(2.4e-2, b.bound(), 1e-15);
    assertTrue(b.holds(2.02e-2));
    assertFalse(b.holds(2.5e-2));
    assertEquals("bound 2.40e-02 = max(tol 2e-02, 1.5 × bf16 1.60e-02)", b.describe());
  }

  @Test
  void aSpreadOverTheFixedToleranceIsABf16FailureNotRoomForFp8() {
    ConformanceBound.Fp8 b = ConformanceBound.Fp8.of(2e-2, 3e-2);
    assertEquals(4.5e-2, b.bound(), 1e-15);
    assertFalse(b.spreadOk());
    assertFalse(b.holds(1e-3), "even an FP8 error far below the bound fails when bf16 itself is out of tolerance");
    assertTrue(b.describe().endsWith(", bf16 over its tol"), b.describe());
  }

  @Test
  void anUnmeasuredSpreadLeavesTheFixedBound() {
    ConformanceBound.Fp8 b = ConformanceBound.Fp8.of(3e-2, Double.NaN);
    assertEquals(3e-2, b.bound());
    assertTrue(b.holds(3e-2));
    assertFalse(b.holds(3.1e-2));
    assertTrue(b.describe().contains("bf16 unmeasured"), b.describe());
  }

  @Test
  void rejectsNegativeOrInfiniteInputsNamingTheValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ConformanceBound.Fp8.of(2e-2, -1e-3));
    assertTrue(e.getMessage().contains("-0.001"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ConformanceBound.Fp8.of(2e-2, Double.POSITIVE_INFINITY));
    assertThrows(IllegalArgumentException.class, () -> ConformanceBound.Fp8.of(0, 1e-2));
    assertThrows(IllegalArgumentException.class, () -> ConformanceBound.Fp8.of(Double.NaN, 1e-2));
  }
}

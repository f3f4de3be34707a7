package io.autoglm.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.ModelLoadException;
import org.junit.jupiter.api.Test;

/** The harness itself: it fails on any exception but its refusal (ModelLoadException by default), and on a hang. */
class FuzzHarnessTest {
  @Test
  void onlyModelLoadExceptionMayEscape() {
    // 2 s: each trivial input must answer within the limit even on a loaded CI host; a 60 s sleep still hangs.
    FuzzHarness h = new FuzzHarness("self-test", 2000);
    try {
      assertEquals(FuzzHarness.Outcome.ACCEPTED, h.run(() -> null, () -> "ok"));
      assertEquals(FuzzHarness.Outcome.REFUSED, h.run(() -> {
        throw new ModelLoadException("bad");
      }, () -> "bad"));
      AssertionError other = assertThrows(AssertionError.class, () -> h.run(() -> {
        throw new NumberFormatException("For input string: \"abc\"");
      }, () -> "the input"));
      assertTrue(other.getMessage().contains("NumberFormatException") && other.getMessage().contains("the input"));
      AssertionError hang = assertThrows(AssertionError.class, () -> h.run(() -> {
        Thread.sleep(60_000);
        return null;
      }, () -> "slow"));
      assertTrue(hang.getMessage().contains("no answer within 2000 ms"), hang.getMessage());
      assertEquals(FuzzHarness.Outcome.ACCEPTED, h.run(() -> null, () -> "after a hang, a fresh worker"));
      assertTrue(h.summary().startsWith("FUZZ self-test: 3 inputs (2 accepted, 1 refused"), h.summary());
    } finally {
      h.close();
    }
  }

  @Test
  void anotherRefusalAndAssertionsInsideTheParse() {
    FuzzHarness h = new FuzzHarness("self-test IAE", IllegalArgumentException.class, 2000);
    try {
      assertEquals(FuzzHarness.Outcome.REFUSED, h.run(() -> {
        throw new IllegalArgumentException("bad");
      }, () -> "bad"));
      AssertionError load = assertThrows(AssertionError.class, () -> h.run(() -> {
        throw new ModelLoadException("not this harness's refusal");
      }, () -> "the input"));
      assertTrue(load.getMessage().contains("escaped (only IllegalArgumentException may)"), load.getMessage());
      AssertionError broken = assertThrows(AssertionError.class, () -> h.run(() -> {
        throw new AssertionError("expected: <1> but was: <2>");
      }, () -> "the input"));
      assertEquals("self-test IAE: expected: <1> but was: <2> for input the input", broken.getMessage());
      assertTrue(h.summary().startsWith("FUZZ self-test IAE: 1 inputs (0 accepted, 1 refused with "
          + "IllegalArgumentException)"), h.summary());
    } finally {
      h.close();
    }
  }
}

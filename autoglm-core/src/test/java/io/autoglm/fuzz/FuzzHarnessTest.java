package io.autoglm.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.ModelLoadException;
import org.junit.jupiter.api.Test;

/** The harness itself: it fails on any exception but ModelLoadException, and on a hang; it counts. */
class FuzzHarnessTest {
  @Test
  void onlyModelLoadExceptionMayEscape() {
    FuzzHarness h = new FuzzHarness("self-test", 500);
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
      assertTrue(hang.getMessage().contains("no answer within 500 ms"), hang.getMessage());
      assertEquals(FuzzHarness.Outcome.ACCEPTED, h.run(() -> null, () -> "after a hang, a fresh worker"));
      assertTrue(h.summary().startsWith("FUZZ self-test: 3 inputs (2 accepted, 1 refused"), h.summary());
    } finally {
      h.close();
    }
  }
}

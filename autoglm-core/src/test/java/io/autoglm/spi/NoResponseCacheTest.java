package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link ResponseCache#none()}: every request generates; a throwing generation still gives a failed future. */
class NoResponseCacheTest {
  @Test
  void everyCallGenerates() throws Exception {
    ResponseCache none = ResponseCache.none();
    assertSame(none, ResponseCache.none());
    AtomicInteger calls = new AtomicInteger();
    for (int i = 0; i < 3; i++) {
      none.getOrCompute(ResponseCacheContract.key(ResponseCacheContract.GREEDY),
          ResponseCacheContract.counting(calls, FinishReason.STOP)).get();
    }
    assertEquals(3, calls.get());
    assertTrue(none.stats().isEmpty());
  }

  @Test
  void throwingGenerationGivesFailedFuture() {
    ExecutionException e = assertThrows(ExecutionException.class, () -> ResponseCache.none()
        .getOrCompute(ResponseCacheContract.key(ResponseCacheContract.GREEDY), () -> {
          throw new IllegalStateException("closed");
        }).get());
    assertEquals("closed", e.getCause().getMessage());
  }
}

package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The default limiter: the contract, plus its caller bookkeeping and the limits' validation. */
class TokenBucketRateLimiterTest extends RateLimiterContract {
  @Override
  protected RateLimiter newLimiter(RateLimits limits, LongSupplier nanoTime) {
    return new TokenBucketRateLimiter(limits, nanoTime);
  }

  @Test
  void idleCallersAreDroppedAndBusyOnesKept() {
    AtomicLong now = new AtomicLong();
    TokenBucketRateLimiter limiter = new TokenBucketRateLimiter(
        RateLimits.builder().requestsPerMinute(60_000).requestBurst(10).build(), now::get);
    RateLimiter.Permit held = limiter.acquire("busy", 0);
    for (int i = 0; i < TokenBucketRateLimiter.SWEEP_EVERY - 2; i++) {
      limiter.acquire("caller-" + i, 0).release(0);
    }
    assertEquals(TokenBucketRateLimiter.SWEEP_EVERY - 1, limiter.trackedCallers());
    now.addAndGet(1_000_000_000L); // one second refills every bucket (1,000 requests/s, burst 10)
    limiter.acquire("last", 0); // the 1,024th acquisition sweeps first
    assertEquals(2, limiter.trackedCallers(), "only 'busy' (in flight) and 'last' remain");
    held.release(0);
  }

  @Test
  void limitsRejectBadValuesAndRepeatedSettings() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RateLimits.builder().requestsPerMinute(0).build());
    assertEquals("requestsPerMinute (0) must be >= 1 (RateLimits.UNLIMITED turns it off)", e.getMessage());
    IllegalStateException twice = assertThrows(IllegalStateException.class,
        () -> RateLimits.builder().tokensPerMinute(10).tokensPerMinute(20));
    assertEquals("tokensPerMinute was already set to 10", twice.getMessage());
    IllegalStateException orphan = assertThrows(IllegalStateException.class,
        () -> RateLimits.builder().tokenBurst(5).build());
    assertEquals("tokenBurst (5) needs tokensPerMinute to be set", orphan.getMessage());
    RateLimits defaults = RateLimits.builder().requestsPerMinute(120).build();
    assertEquals(120, defaults.requestBurst(), "a burst defaults to one minute's worth");
    assertEquals(RateLimits.UNLIMITED, defaults.tokensPerMinute());
  }

  @Test
  void unlimitedAdmitsEverything() {
    RateLimiter unlimited = RateLimiter.unlimited();
    assertSame(unlimited, RateLimiter.unlimited());
    for (int i = 0; i < 10_000; i++) {
      unlimited.acquire("a", Long.MAX_VALUE / 2);
    }
    assertThrows(IllegalArgumentException.class, () -> unlimited.acquire("a", -1));
  }
}

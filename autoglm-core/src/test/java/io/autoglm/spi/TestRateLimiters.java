package io.autoglm.spi;

import java.util.function.LongSupplier;

/** The default limiter on a clock the test controls, for tests outside this package (no refill while they run). */
public final class TestRateLimiters {
  private TestRateLimiters() {}

  /** {@link RateLimiter#tokenBucket} reading {@code nanoTime} instead of {@link System#nanoTime()}. */
  public static RateLimiter tokenBucket(RateLimits limits, LongSupplier nanoTime) {
    return new TokenBucketRateLimiter(limits, nanoTime);
  }
}

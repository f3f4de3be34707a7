package io.autoglm.spi;

import io.autoglm.redis.RedisFixture;
import io.autoglm.redis.RedisRateLimiter;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Redis limiter held to the contract every token-bucket {@link RateLimiter} meets (exact retry-after on a fake
 * clock, reservations reconciled at release, the concurrency cap, the 2 s hammer tests), against a real
 * redis-server. The contract's clock is passed to the scripts ({@link RedisRateLimiter.Builder#clock}) in place of
 * Redis's.
 */
class RedisRateLimiterContractTest extends RateLimiterContract {
  @RegisterExtension static final RedisFixture REDIS = RedisFixture.perClass();

  @Override
  protected long clockTickNanos() {
    return 1_000_000; // the script keeps time in whole milliseconds (the clock floored: RedisRateLimiter)
  }

  /** A fresh key prefix per limiter: the contract reuses caller keys, and Redis outlives each test. */
  @Override
  protected RateLimiter newLimiter(RateLimits limits, LongSupplier nanoTime) {
    return REDIS.track(RedisRateLimiter.builder().uri(REDIS.uri()).limits(limits).clock(nanoTime)
        .options(REDIS.isolated()).build());
  }
}

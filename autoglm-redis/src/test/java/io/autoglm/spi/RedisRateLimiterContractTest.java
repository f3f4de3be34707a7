package io.autoglm.spi;

import io.autoglm.redis.RedisOptions;
import io.autoglm.redis.RedisRateLimiter;
import io.autoglm.redis.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The Redis limiter held to the contract every token-bucket {@link RateLimiter} meets (exact retry-after on a fake
 * clock, reservations reconciled at release, the concurrency cap, the 2 s hammer tests), against a real
 * redis-server. The contract's clock is passed to the scripts ({@link RedisRateLimiter.Builder#clock}) in place of
 * Redis's.
 */
class RedisRateLimiterContractTest extends RateLimiterContract {
  private static RedisServer redis;
  private static final AtomicInteger LIMITERS = new AtomicInteger();
  private final List<RedisRateLimiter> limiters = new ArrayList<>();

  @BeforeAll
  static void start() {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stop() {
    if (redis != null) {
      redis.close();
    }
  }

  @AfterEach
  void close() {
    limiters.forEach(RedisRateLimiter::close);
  }

  @Override
  protected long clockTickNanos() {
    return 1_000_000; // the script keeps time in whole milliseconds (the clock floored: RedisRateLimiter)
  }

  /** A fresh key prefix per limiter: the contract reuses caller keys, and Redis outlives each test. */
  @Override
  protected RateLimiter newLimiter(RateLimits limits, LongSupplier nanoTime) {
    RedisRateLimiter l = RedisRateLimiter.builder().uri(redis.uri()).limits(limits).clock(nanoTime)
        .options(RedisOptions.defaults().withCommandTimeout(Duration.ofSeconds(2))
            .withKeyPrefix("contract-" + LIMITERS.incrementAndGet() + ":")).build();
    limiters.add(l);
    return l;
  }
}

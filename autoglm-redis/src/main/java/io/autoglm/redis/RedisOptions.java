package io.autoglm.redis;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings shared by {@link RedisRateLimiter} and {@link RedisResponseCache}.
 *
 * @param keyPrefix prepended to every key, so several deployments can share one Redis (default {@code autoglm:})
 * @param commandTimeout how long a caller thread waits for Redis before {@link #failMode} applies (default 100 ms);
 *     the engine thread never waits on Redis at all
 * @param failMode what happens when Redis does not answer in time (default {@link FailMode#OPEN})
 */
public record RedisOptions(String keyPrefix, Duration commandTimeout, FailMode failMode) {

  public RedisOptions {
    Objects.requireNonNull(keyPrefix, "keyPrefix must not be null");
    Objects.requireNonNull(commandTimeout, "commandTimeout must not be null");
    Objects.requireNonNull(failMode, "failMode must not be null (OPEN or CLOSED)");
    if (commandTimeout.isNegative() || commandTimeout.isZero()) {
      throw new IllegalArgumentException("commandTimeout (" + commandTimeout + ") must be > 0");
    }
  }

  /** {@code autoglm:}, 100 ms, fail-open. */
  public static RedisOptions defaults() {
    return new RedisOptions("autoglm:", Duration.ofMillis(100), FailMode.OPEN);
  }

  public RedisOptions withKeyPrefix(String keyPrefix) {
    return new RedisOptions(keyPrefix, commandTimeout, failMode);
  }

  public RedisOptions withCommandTimeout(Duration commandTimeout) {
    return new RedisOptions(keyPrefix, commandTimeout, failMode);
  }

  public RedisOptions withFailMode(FailMode failMode) {
    return new RedisOptions(keyPrefix, commandTimeout, failMode);
  }
}

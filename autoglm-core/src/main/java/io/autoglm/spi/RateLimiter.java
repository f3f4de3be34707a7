package io.autoglm.spi;

/**
 * Admits or rejects a request before it reaches the engine, per caller key (an API key, a user, a tenant).
 *
 * <p>Contract, for every implementation: a rejection is a {@link RateLimitExceededException} with a retry-after
 * {@code >= 0} and reserves nothing; an admitted request holds a {@link Permit} until it ends, and releasing a permit
 * twice has no further effect. The engine reserves {@code promptTokens + maxNewTokens} up front and releases the
 * permit with the tokens actually used ({@code usage.totalTokens()}), so an early stop gives the difference back.
 */
@FunctionalInterface
public interface RateLimiter {

  /**
   * Admits one request of {@code callerKey} that may use up to {@code reservedTokens}, or throws.
   *
   * @param reservedTokens prompt tokens plus {@code maxNewTokens}
   * @throws RateLimitExceededException when a limit is reached now
   * @throws IllegalArgumentException when {@code reservedTokens < 0}, or larger than any limit could ever admit
   */
  Permit acquire(String callerKey, long reservedTokens);

  /** Admits everything. */
  static RateLimiter unlimited() {
    return NoOps.RATE_LIMITER;
  }

  /** Token buckets per caller key: requests and tokens per minute with bursts, plus a concurrency cap. */
  static RateLimiter tokenBucket(RateLimits limits) {
    return new TokenBucketRateLimiter(limits, System::nanoTime);
  }

  /** An admitted request's hold on the limiter. Release it exactly once, when the request ends. */
  interface Permit extends AutoCloseable {
    /** The tokens reserved at {@link #acquire}. */
    long reservedTokens();

    /**
     * Ends the request: frees its concurrency slot and charges {@code actualTokens} instead of the reservation.
     * Calls after the first have no effect.
     *
     * @throws IllegalArgumentException when {@code actualTokens < 0} (the permit stays held)
     */
    void release(long actualTokens);

    /** Ends a request that has no usage to report (it failed): charges the whole reservation. */
    @Override
    default void close() {
      release(reservedTokens());
    }
  }
}

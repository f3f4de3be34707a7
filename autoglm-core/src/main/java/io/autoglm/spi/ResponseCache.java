package io.autoglm.spi;

import com.github.benmanes.caffeine.cache.Ticker;
import io.autoglm.GenerationResult;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Supplier;

/**
 * Answers a repeated deterministic request without running the model. Off ({@link #none()}) unless configured.
 *
 * <p>Contract, for every implementation:
 * <ul>
 *   <li>while a response for {@code key} is stored or in flight, {@code generation} is not called again: concurrent
 *       identical requests share one generation;</li>
 *   <li>a generation that fails, is cancelled, or ends with {@link io.autoglm.FinishReason#CANCELLED} or
 *       {@link io.autoglm.FinishReason#TIMEOUT} is not kept: the next lookup generates again;</li>
 *   <li>an exception thrown by {@code generation} comes back as a failed future, never thrown;</li>
 *   <li>a hit completes with a result equal to the stored one (its {@code requestId} is the first request's).</li>
 * </ul>
 * Only requests that have a {@link CacheKey} reach a cache; {@link CacheKey#ofTokens} gives none for a sampled
 * request without a seed.
 */
@FunctionalInterface
public interface ResponseCache {

  /**
   * The stored or in-flight response for {@code key}, or the one {@code generation} starts.
   *
   * @param generation starts the request on the engine and returns at once; called at most once per miss
   */
  CompletableFuture<GenerationResult> getOrCompute(CacheKey key,
      Supplier<CompletableFuture<GenerationResult>> generation);

  /** Hit, miss and eviction counts, where the implementation records them. */
  default Optional<Stats> stats() {
    return Optional.empty();
  }

  /** No caching: every call runs {@code generation}. */
  static ResponseCache none() {
    return NoOps.RESPONSE_CACHE;
  }

  /**
   * A Caffeine cache bounded by an estimate of its heap footprint and by age; it records stats.
   *
   * <p>Each caller gets its own copy of the shared future: cancelling it (or putting a caller's deadline on it with
   * {@code orTimeout}) stops only that caller's wait; the shared generation goes on for the others and is kept. So
   * the engine should run a cached request's generation without any one caller's deadline.
   *
   * @param maximumWeightBytes the estimated heap bytes of keys and responses kept, at most
   * @param expireAfterWrite how long a response is kept after it completes
   */
  static ResponseCache caffeine(long maximumWeightBytes, Duration expireAfterWrite) {
    return new CaffeineResponseCache(maximumWeightBytes, expireAfterWrite, Ticker.systemTicker(),
        ForkJoinPool.commonPool());
  }

  /**
   * Counters of a {@link ResponseCache} since it was built.
   *
   * @param hitCount lookups answered by a stored or in-flight response (a coalesced request counts as a hit)
   * @param missCount lookups that started a generation
   * @param evictionCount entries removed for size or age (failed generations are not counted)
   */
  public record Stats(long hitCount, long missCount, long evictionCount) {
    public Stats {
      if (hitCount < 0 || missCount < 0 || evictionCount < 0) {
        throw new IllegalArgumentException(String.format(
            "cache stats must be >= 0: hitCount %d, missCount %d, evictionCount %d", hitCount, missCount,
            evictionCount));
      }
    }

    /** Hits over lookups; 0 before the first lookup. */
    public double hitRate() {
      long lookups = hitCount + missCount;
      return lookups == 0 ? 0 : (double) hitCount / lookups;
    }
  }
}

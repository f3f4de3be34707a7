package io.autoglm.spi;

import java.util.Objects;
import java.util.List;
import io.autoglm.SamplingParams;
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
 * Only requests that have a {@link ResponseCache.Key} reach a cache; {@link ResponseCache.Key#ofTokens} gives none for a sampled
 * request without a seed.
 */
@FunctionalInterface
public interface ResponseCache {

  /**
   * The stored or in-flight response for {@code key}, or the one {@code generation} starts.
   *
   * @param generation starts the request on the engine and returns at once; called at most once per miss
   */
  CompletableFuture<GenerationResult> getOrCompute(ResponseCache.Key key,
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

  /**
   * Everything that decides a response: the model, the canonical prompt and every sampling parameter.
   *
   * <p>A key exists only for deterministic requests (greedy, or with a seed): the constructor rejects any other, so a
   * sampled request without a seed can never be cached. Use {@link #ofTokens} or {@link #ofText}, which say "not
   * cacheable" with an empty {@code Optional} instead of throwing. Chat requests use their rendered chat template as
   * the text, which is exactly what the model sees.
   *
   * @param modelId the engine's model id
   * @param promptTokenIds the prompt of a token request; empty for a text request
   * @param promptText the prompt of a text or chat request; empty for a token request
   * @param params all sampling parameters, seed and stop conditions included
   */
  public record Key(String modelId, List<Integer> promptTokenIds, Optional<String> promptText,
      SamplingParams params) {

    public Key {
      Objects.requireNonNull(modelId, "modelId must not be null");
      Objects.requireNonNull(promptTokenIds, "promptTokenIds must not be null");
      Objects.requireNonNull(promptText, "promptText must not be null; use Optional.empty() for a token request");
      Objects.requireNonNull(params, "params must not be null");
      if (modelId.isBlank()) {
        throw new IllegalArgumentException("modelId must not be blank");
      }
      promptTokenIds = List.copyOf(promptTokenIds);
      if (promptText.isPresent() == !promptTokenIds.isEmpty()) {
        throw new IllegalArgumentException(String.format(
            "a cache key needs exactly one prompt form: got %d prompt token ids and %s prompt text",
            promptTokenIds.size(), promptText.isPresent() ? "a" : "no"));
      }
      if (!isCacheable(params)) {
        throw new IllegalArgumentException(String.format(
            "params must be deterministic to be cached (temperature 0, or a seed): got temperature %s and no seed",
            params.temperature()));
      }
    }

    /** Whether a request with these parameters may be cached: greedy, or seeded. */
    public static boolean isCacheable(SamplingParams params) {
      return params.isDeterministic();
    }

    /** The key of a token request, or empty when {@code params} are not deterministic. */
    public static Optional<Key> ofTokens(String modelId, List<Integer> promptTokenIds, SamplingParams params) {
      return isCacheable(params)
          ? Optional.of(new Key(modelId, promptTokenIds, Optional.empty(), params))
          : Optional.empty();
    }

    /** The key of a text or chat request, or empty when {@code params} are not deterministic. */
    public static Optional<Key> ofText(String modelId, String promptText, SamplingParams params) {
      return isCacheable(params)
          ? Optional.of(new Key(modelId, List.of(), Optional.of(promptText), params))
          : Optional.empty();
    }

    /** A rough heap footprint of this key, in bytes, for the cache's weigher. */
    long estimatedBytes() {
      // ~16 bytes per boxed id in a list, ~2 per char (UTF-16 worst case), plus fixed overhead for the records.
      long stopChars = params.stop().stream().mapToLong(String::length).sum();
      return 128 + 2L * modelId.length() + 16L * promptTokenIds.size() + 2L * promptText.map(String::length).orElse(0)
          + 16L * params.stopTokenIds().size() + 2L * stopChars;
    }
  }
}

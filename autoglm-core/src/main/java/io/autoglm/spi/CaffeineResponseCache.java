package io.autoglm.spi;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The default {@link ResponseCache}: a Caffeine {@link AsyncCache} of futures, so an in-flight generation is shared
 * by every identical request that arrives before it ends. Caffeine drops futures that fail or are cancelled; this
 * class also drops results that ended by cancellation or deadline. Entries weigh their estimated heap bytes (an
 * in-flight future weighs 0 until it completes).
 */
final class CaffeineResponseCache implements ResponseCache {
  private final AsyncCache<ResponseCache.Key, GenerationResult> cache;

  CaffeineResponseCache(long maximumWeightBytes, Duration expireAfterWrite, Ticker ticker, Executor executor) {
    if (maximumWeightBytes < 1) {
      throw new IllegalArgumentException("maximumWeightBytes (" + maximumWeightBytes + ") must be >= 1");
    }
    Objects.requireNonNull(expireAfterWrite, "expireAfterWrite must not be null");
    if (expireAfterWrite.isNegative() || expireAfterWrite.isZero()) {
      throw new IllegalArgumentException("expireAfterWrite (" + expireAfterWrite + ") must be > 0");
    }
    this.cache = Caffeine.newBuilder()
        .maximumWeight(maximumWeightBytes)
        .weigher((ResponseCache.Key key, GenerationResult result) -> weight(key, result))
        .expireAfterWrite(expireAfterWrite)
        .ticker(ticker)
        .executor(executor)
        .recordStats()
        .buildAsync();
  }

  @Override
  public CompletableFuture<GenerationResult> getOrCompute(ResponseCache.Key key,
      Supplier<CompletableFuture<GenerationResult>> generation) {
    Objects.requireNonNull(key, "key must not be null");
    Objects.requireNonNull(generation, "generation must not be null");
    CompletableFuture<GenerationResult> shared;
    try {
      shared = cache.get(key, (k, executor) -> start(generation));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    // Attached by every caller: if the result is already in when the entry is inserted, this still removes it.
    shared.thenAccept(result -> {
      if (!keepable(result)) {
        cache.asMap().remove(key, shared);
      }
    });
    // A copy, so one caller cancelling its future does not cancel the generation the others wait for.
    return shared.copy();
  }

  private static CompletableFuture<GenerationResult> start(Supplier<CompletableFuture<GenerationResult>> generation) {
    CompletableFuture<GenerationResult> future = generation.get();
    if (future == null) {
      throw new IllegalStateException("generation returned null; it must return a future");
    }
    return future;
  }

  private static boolean keepable(GenerationResult result) {
    return result != null && result.finishReason() != FinishReason.CANCELLED
        && result.finishReason() != FinishReason.TIMEOUT && result.finishReason() != FinishReason.ERROR;
  }

  private static int weight(ResponseCache.Key key, GenerationResult result) {
    long bytes = key.estimatedBytes() + 64 + 16L * result.tokenIds().size() + 2L * result.text().length()
        + 2L * String.valueOf(result.requestId()).length();
    return (int) Math.min(Integer.MAX_VALUE, bytes);
  }

  @Override
  public Optional<ResponseCache.Stats> stats() {
    CacheStats stats = cache.synchronous().stats();
    return Optional.of(new ResponseCache.Stats(stats.hitCount(), stats.missCount(), stats.evictionCount()));
  }

  /** Runs pending evictions now (tests). */
  void cleanUp() {
    cache.synchronous().cleanUp();
  }
}

package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The default cache: the contract, plus its TTL, weight bound, stats and per-caller cancellation. */
class CaffeineResponseCacheTest extends ResponseCacheContract {
  private final AtomicLong nowNanos = new AtomicLong();

  @Override
  protected ResponseCache newCache() {
    return cache(1 << 20, Duration.ofMinutes(1));
  }

  private CaffeineResponseCache cache(long maximumWeightBytes, Duration ttl) {
    // Same-thread executor: evictions and removals happen before the call returns, so assertions need no waiting.
    return new CaffeineResponseCache(maximumWeightBytes, ttl, nowNanos::get, Runnable::run);
  }

  @Test
  void entriesExpireAfterTheirTtl() throws Exception {
    ResponseCache cache = cache(1 << 20, Duration.ofSeconds(60));
    AtomicInteger calls = new AtomicInteger();
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    nowNanos.addAndGet(TimeUnit.SECONDS.toNanos(59));
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(1, calls.get(), "59 s after the write: still a hit");
    nowNanos.addAndGet(TimeUnit.SECONDS.toNanos(2));
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(2, calls.get(), "61 s after the write: expired, generated again");
  }

  @Test
  void weightBoundEvictsAndStatsCountEverything() throws Exception {
    // Each entry weighs ~400 estimated bytes (key ~190 + result ~200); 2,000 bytes hold about five.
    CaffeineResponseCache cache = cache(2_000, Duration.ofMinutes(1));
    AtomicInteger calls = new AtomicInteger();
    for (int i = 1; i <= 20; i++) {
      cache.getOrCompute(key(SamplingParams.greedy(i)), counting(calls, FinishReason.STOP)).get();
      if (i == 1) {
        cache.getOrCompute(key(SamplingParams.greedy(1)), counting(calls, FinishReason.STOP)).get();
      }
    }
    cache.cleanUp();
    ResponseCache.Stats stats = cache.stats().orElseThrow();
    assertEquals(20, stats.missCount(), "misses");
    assertEquals(1, stats.hitCount(), "hits");
    assertTrue(stats.evictionCount() >= 14, "evictions: " + stats.evictionCount());
    assertEquals(1.0 / 21, stats.hitRate(), 1e-9);
  }

  @Test
  void aCallerCancellingItsFutureDoesNotCancelTheSharedGeneration() throws Exception {
    ResponseCache cache = newCache();
    CompletableFuture<GenerationResult> pending = new CompletableFuture<>();
    CompletableFuture<GenerationResult> impatient = cache.getOrCompute(key(GREEDY), () -> pending);
    CompletableFuture<GenerationResult> patient = cache.getOrCompute(key(GREEDY), () -> {
      throw new AssertionError("must join the in-flight generation");
    });
    impatient.cancel(true);
    assertFalse(pending.isCancelled(), "the generation goes on");
    GenerationResult done = result("r", FinishReason.STOP);
    pending.complete(done);
    assertEquals(done, patient.get());
  }

  @Test
  void rejectsBadSettings() {
    IllegalArgumentException weight = assertThrows(IllegalArgumentException.class,
        () -> cache(0, Duration.ofMinutes(1)));
    assertEquals("maximumWeightBytes (0) must be >= 1", weight.getMessage());
    IllegalArgumentException ttl = assertThrows(IllegalArgumentException.class, () -> cache(1, Duration.ZERO));
    assertEquals("expireAfterWrite (PT0S) must be > 0", ttl.getMessage());
  }

  @Test
  void cacheKeyRejectsMixedOrMissingPrompts() {
    assertThrows(IllegalArgumentException.class,
        () -> new ResponseCache.Key("m", List.of(1), java.util.Optional.of("x"), GREEDY));
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> new ResponseCache.Key("m", List.of(), java.util.Optional.empty(), GREEDY));
    assertEquals("a cache key needs exactly one prompt form: got 0 prompt token ids and no prompt text",
        none.getMessage());
  }
}

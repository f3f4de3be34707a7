package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.GenerationResult.Usage;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * What every {@link ResponseCache} that caches must do. A generation is simulated by a supplier that counts its
 * calls; "the engine ran" means that count went up.
 */
abstract class ResponseCacheContract {
  static final List<Integer> PROMPT = List.of(151331, 151333, 9703, 11);
  static final SamplingParams GREEDY = SamplingParams.greedy(16);

  protected abstract ResponseCache newCache();

  static GenerationResult result(String requestId, FinishReason reason) {
    return new GenerationResult(requestId, List.of(5, 6, 7), "abc", reason, new Usage(PROMPT.size(), 3, 0));
  }

  /** A generation that completes at once with a fresh result, counting its calls. */
  static Supplier<CompletableFuture<GenerationResult>> counting(AtomicInteger calls, FinishReason reason) {
    return () -> CompletableFuture.completedFuture(result("req-" + calls.incrementAndGet(), reason));
  }

  /** The engine's call path: only requests with a key reach the cache. */
  static CompletableFuture<GenerationResult> generate(ResponseCache cache, SamplingParams params,
      Supplier<CompletableFuture<GenerationResult>> generation) {
    Optional<ResponseCache.Key> key = ResponseCache.Key.ofTokens("glm-4-9b", PROMPT, params);
    return key.isPresent() ? cache.getOrCompute(key.get(), generation) : generation.get();
  }

  static ResponseCache.Key key(SamplingParams params) {
    return ResponseCache.Key.ofTokens("glm-4-9b", PROMPT, params).orElseThrow();
  }

  @Test
  void hitReturnsIdenticalResultWithoutGenerating() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    GenerationResult first = cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    GenerationResult second = cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(1, calls.get(), "generations");
    assertEquals(first, second);
    assertEquals("req-1", second.requestId(), "a hit carries the first request's id");
  }

  @Test
  void everyPartOfTheKeyMatters() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    List<ResponseCache.Key> keys = List.of(
        key(GREEDY),
        ResponseCache.Key.ofTokens("glm-4-9b-chat", PROMPT, GREEDY).orElseThrow(),
        ResponseCache.Key.ofTokens("glm-4-9b", List.of(151331, 151333, 9703), GREEDY).orElseThrow(),
        ResponseCache.Key.ofText("glm-4-9b", "hello", GREEDY).orElseThrow(),
        key(GREEDY.toBuilder().maxNewTokens(17).build()),
        key(GREEDY.toBuilder().ignoreEos(true).build()),
        key(GREEDY.toBuilder().stop(List.of("\n")).build()),
        key(GREEDY.toBuilder().temperature(0.7).seed(1).build()),
        key(GREEDY.toBuilder().temperature(0.7).seed(2).build()),
        key(GREEDY.toBuilder().temperature(0.7).topP(0.9).seed(2).build()));
    for (ResponseCache.Key key : keys) {
      cache.getOrCompute(key, counting(calls, FinishReason.STOP)).get();
    }
    assertEquals(keys.size(), calls.get(), "one generation per distinct key");
    for (ResponseCache.Key key : keys) {
      cache.getOrCompute(key, counting(calls, FinishReason.STOP)).get();
    }
    assertEquals(keys.size(), calls.get(), "then all hits");
  }

  @Test
  void sampledRequestWithoutSeedIsNeverCached() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    SamplingParams sampled = GREEDY.toBuilder().temperature(0.8).topK(40).build();
    for (int i = 0; i < 3; i++) {
      generate(cache, sampled, counting(calls, FinishReason.STOP)).get();
    }
    assertEquals(3, calls.get(), "every sampled request without a seed runs the model");
    assertTrue(ResponseCache.Key.ofText("glm-4-9b", "hi", sampled).isEmpty());
    assertThrows(IllegalArgumentException.class,
        () -> new ResponseCache.Key("glm-4-9b", PROMPT, Optional.empty(), sampled));

    SamplingParams seeded = sampled.toBuilder().seed(42).build();
    for (int i = 0; i < 3; i++) {
      generate(cache, seeded, counting(calls, FinishReason.STOP)).get();
    }
    assertEquals(4, calls.get(), "a seeded sampled request is deterministic, so cached");
  }

  @Test
  void hundredConcurrentIdenticalRequestsRunOneGeneration() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    CompletableFuture<GenerationResult> pending = new CompletableFuture<>();
    int requests = 100;
    CyclicBarrier start = new CyclicBarrier(requests);
    ExecutorService pool = Executors.newFixedThreadPool(requests);
    try {
      List<Future<CompletableFuture<GenerationResult>>> submitted = new ArrayList<>();
      for (int i = 0; i < requests; i++) {
        submitted.add(pool.submit(() -> {
          start.await(60, TimeUnit.SECONDS); // all race for the first insertion (60 s: a hang guard)
          return cache.getOrCompute(key(GREEDY), () -> {
            calls.incrementAndGet();
            return pending;
          });
        }));
      }
      List<CompletableFuture<GenerationResult>> answers = new ArrayList<>();
      for (Future<CompletableFuture<GenerationResult>> f : submitted) {
        answers.add(f.get(60, TimeUnit.SECONDS));
      }
      assertEquals(1, calls.get(), "generations while 100 identical requests wait");
      GenerationResult done = result("req-only", FinishReason.STOP);
      pending.complete(done);
      for (CompletableFuture<GenerationResult> answer : answers) {
        assertEquals(done, answer.get(60, TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void failedGenerationIsNotKept() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    CompletableFuture<GenerationResult> failed = cache.getOrCompute(key(GREEDY), () -> {
      calls.incrementAndGet();
      return CompletableFuture.failedFuture(new IllegalStateException("out of KV blocks"));
    });
    ExecutionException e = assertThrows(ExecutionException.class, failed::get);
    assertTrue(e.getCause() instanceof IllegalStateException, "cause: " + e.getCause());
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(2, calls.get(), "the failure was not kept, so the next request generated");
  }

  @Test
  void failureAfterWaitingIsNotKept() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    CompletableFuture<GenerationResult> pending = new CompletableFuture<>();
    CompletableFuture<GenerationResult> first = cache.getOrCompute(key(GREEDY), () -> {
      calls.incrementAndGet();
      return pending;
    });
    pending.completeExceptionally(new IllegalStateException("engine stopped"));
    assertThrows(ExecutionException.class, first::get);
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(2, calls.get());
  }

  @Test
  void cancelledGenerationIsNotKept() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    CompletableFuture<GenerationResult> pending = new CompletableFuture<>();
    cache.getOrCompute(key(GREEDY), () -> {
      calls.incrementAndGet();
      return pending;
    });
    pending.cancel(false); // the engine cancelled the generation itself
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(2, calls.get());
  }

  @Test
  void resultCutShortByCancelOrDeadlineIsNotKept() throws Exception {
    for (FinishReason cutShort : List.of(FinishReason.CANCELLED, FinishReason.TIMEOUT)) {
      ResponseCache cache = newCache();
      AtomicInteger calls = new AtomicInteger();
      GenerationResult partial = cache.getOrCompute(key(GREEDY), counting(calls, cutShort)).get();
      assertEquals(cutShort, partial.finishReason(), "the caller still gets its own result");
      GenerationResult next = cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
      assertEquals(2, calls.get(), cutShort + " result was kept");
      assertEquals(FinishReason.STOP, next.finishReason());
    }
  }

  @Test
  void generationThatThrowsGivesFailedFutureAndIsNotKept() throws Exception {
    ResponseCache cache = newCache();
    AtomicInteger calls = new AtomicInteger();
    CompletableFuture<GenerationResult> f = cache.getOrCompute(key(GREEDY), () -> {
      calls.incrementAndGet();
      throw new IllegalStateException("engine closed");
    });
    ExecutionException e = assertThrows(ExecutionException.class, f::get);
    assertTrue(e.getCause() instanceof IllegalStateException, "cause: " + e.getCause());
    cache.getOrCompute(key(GREEDY), counting(calls, FinishReason.STOP)).get();
    assertEquals(2, calls.get());
  }

  @Test
  void differentKeysDoNotWaitForEachOther() throws Exception {
    ResponseCache cache = newCache();
    CompletableFuture<GenerationResult> slow = new CompletableFuture<>();
    cache.getOrCompute(key(GREEDY), () -> slow);
    CountDownLatch ran = new CountDownLatch(1);
    GenerationResult other = cache.getOrCompute(key(SamplingParams.greedy(8)), () -> {
      ran.countDown();
      return CompletableFuture.completedFuture(result("fast", FinishReason.STOP));
    }).get(30, TimeUnit.SECONDS); // a hang guard: the other key's generation never completes
    assertEquals("fast", other.requestId());
    assertEquals(0, ran.getCount());
    slow.complete(result("slow", FinishReason.STOP));
    assertSame(FinishReason.STOP, cache.getOrCompute(key(GREEDY), () -> {
      throw new AssertionError("must be a hit");
    }).get().finishReason());
  }
}

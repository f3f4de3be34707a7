package io.autoglm;

import io.autoglm.GenerationResult.Usage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.RateLimits;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.TestRateLimiters;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The response cache, rate limiter and metrics, wired through the builder into the real engine. */
class ProductionHooksTest {
  private static final List<Integer> PROMPT = List.of(5, 17, 42, 99, 7);

  /** Counts generations that reached the engine. */
  static final class Finished implements EngineMetrics {
    final AtomicInteger finished = new AtomicInteger();

    @Override
    public void onRequestFinished(String op, Usage usage, FinishReason reason, long durationNanos, long decodeNanos) {
      finished.incrementAndGet();
    }
  }

  @Test
  void cacheHitsSkipTheEngineAndConcurrentIdenticalRequestsCoalesce() throws Exception {
    Finished counter = new Finished();
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm4-tiny")).kvBlocks(64)
        .responseCache(ResponseCache.caffeine(16 << 20, Duration.ofMinutes(5))).metrics(counter).build()) {
      SamplingParams greedy = SamplingParams.builder().maxNewTokens(16).ignoreEos(true).build();
      GenerationResult first = glm.generate(PROMPT, greedy);
      long steps = glm.stats().steps();
      GenerationResult hit = glm.generate(PROMPT, greedy);
      assertEquals(steps, glm.stats().steps(), "a hit runs no engine step");
      assertEquals(first.tokenIds(), hit.tokenIds());
      assertEquals(first.finishReason(), hit.finishReason());
      assertEquals(1, counter.finished.get());

      SamplingParams sampled = SamplingParams.builder().maxNewTokens(8).temperature(1).build();
      glm.generate(PROMPT, sampled);
      long afterSampled = glm.stats().steps();
      glm.generate(PROMPT, sampled);
      assertTrue(glm.stats().steps() > afterSampled, "a sampled request without a seed is never cached");

      int before = counter.finished.get();
      SamplingParams fresh = SamplingParams.builder().maxNewTokens(12).ignoreEos(true).seed(99).temperature(1).build();
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> threads = new ArrayList<>();
      List<GenerationResult> results = java.util.Collections.synchronizedList(new ArrayList<>());
      for (int i = 0; i < 100; i++) {
        Thread t = new Thread(() -> {
          try {
            go.await();
            results.add(glm.generate(List.of(9, 8, 7, 6), fresh));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        t.start();
        threads.add(t);
      }
      go.countDown();
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(100, results.size());
      assertEquals(before + 1, counter.finished.get(), "100 identical requests ran one generation");
      assertEquals(1, results.stream().map(GenerationResult::tokenIds).distinct().count());
      assertTrue(glm.responseCacheStats().orElseThrow().hitCount() >= 100);
    }
  }

  @Test
  void rateLimiterRejectsWithRetryAfter() {
    // The default token bucket on a clock that stands still: on the real clock a request refills every second,
    // and two generations on a loaded CI host can take that long, letting the third request in.
    RateLimiter limiter = TestRateLimiters.tokenBucket(RateLimits.builder().requestsPerMinute(60).requestBurst(2)
        .build(), () -> 0L);
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm-tiny")).kvBlocks(64).rateLimiter(limiter)
        .build()) {
      SamplingParams p = SamplingParams.greedy(2);
      glm.submit(GenerationRequest.of(PROMPT, p).withUser("alice")).result().join();
      glm.submit(GenerationRequest.of(PROMPT, p).withUser("alice")).result().join();
      RateLimitExceededException e = assertThrows(RateLimitExceededException.class,
          () -> glm.submit(GenerationRequest.of(PROMPT, p).withUser("alice")));
      assertTrue(!e.retryAfter().isNegative() && e.retryAfter().compareTo(Duration.ofSeconds(2)) <= 0, e.toString());
      assertNotEquals(null, glm.submit(GenerationRequest.of(PROMPT, p).withUser("bob")).result().join());
    }
  }

  @Test
  void micrometerSeesEveryRequest() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm-tiny")).kvBlocks(64).meterRegistry(registry)
        .build()) {
      List<GenerationHandle> hs = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        hs.add(glm.submit(List.of(5, 6, 7 + i), SamplingParams.builder().maxNewTokens(3 + i % 4).ignoreEos(true).build()));
      }
      int generated = hs.stream().mapToInt(h -> h.result().join().usage().completionTokens()).sum();
      assertEquals(20, (long) registry.get("gen_ai.server.time_to_first_token").timer().count());
      assertEquals(20, (long) registry.get("gen_ai.server.request.duration").timer().count());
      assertEquals(60.0, registry.get("autoglm.prompt.tokens").counter().count());
      assertEquals(generated, registry.get("autoglm.generation.tokens").counter().count());
      assertEquals(20.0, registry.get("autoglm.requests.finished").tag("gen_ai.response.finish_reasons", "length")
          .counter().count());
      assertEquals(generated, registry.get("gen_ai.client.token.usage").tag("gen_ai.token.type", "output")
          .summary().totalAmount());
    }
  }
}

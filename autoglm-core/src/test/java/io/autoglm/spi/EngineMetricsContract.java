package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.RateLimitExceededException.Limit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What every recording {@link EngineMetrics} must do: count what the engine reports, from any thread, and never throw
 * back into the engine. Each implementation says how to read its counts through {@link #observed}.
 */
abstract class EngineMetricsContract {
  static final String MODEL = "glm-4-9b";
  static final int REQUESTS = 20;

  /** The counts a test reads back from an implementation. */
  record Observed(long finishedRequests, long failedRequests, long timeToFirstTokenSamples, long promptTokens,
      long generationTokens, long preemptions, long responseCacheHits, long responseCacheMisses, long rateLimited) {}

  protected abstract EngineMetrics newMetrics(String modelId);

  protected abstract Observed observed(EngineMetrics metrics);

  /**
   * Twenty requests as the engine reports them. Request i has 10 + i prompt tokens and 5 + i output tokens, a first
   * token after (i + 1) ms, a decode of 4 ms per token and a total of ttft + decode; even ones stop, odd ones hit
   * the length limit; the first half are chat. Around them: two preemptions, two steps, five cache lookups (three
   * hits), one rate-limit rejection and one failed request.
   */
  static void simulateTwentyRequests(EngineMetrics metrics) {
    metrics.onStep(4, 16, 0.25, 64);
    for (int i = 0; i < REQUESTS; i++) {
      String operation = i < REQUESTS / 2 ? "chat" : "text_completion";
      long ttftNanos = TimeUnit.MILLISECONDS.toNanos(i + 1);
      int outputTokens = 5 + i;
      long decodeNanos = TimeUnit.MILLISECONDS.toNanos(4L * (outputTokens - 1));
      metrics.onPrefixCacheLookup(i % 2 == 0 ? 8 : 0, 10 + i);
      metrics.onFirstToken(operation, ttftNanos);
      metrics.onRequestFinished(operation, new Usage(10 + i, outputTokens, i % 2 == 0 ? 8 : 0),
          i % 2 == 0 ? FinishReason.STOP : FinishReason.LENGTH, ttftNanos + decodeNanos, decodeNanos);
    }
    metrics.onPreemption();
    metrics.onPreemption();
    for (int i = 0; i < 5; i++) {
      metrics.onResponseCacheLookup(i < 3);
    }
    metrics.onRateLimited(Limit.TOKENS_PER_MINUTE);
    metrics.onRequestFailed("chat", "IllegalStateException", TimeUnit.MILLISECONDS.toNanos(3));
    metrics.onStep(0, 0, 0.0, 0);
  }

  /** Sum over i in [0, 20) of 10 + i. */
  static final long PROMPT_TOKEN_SUM = 10L * REQUESTS + (REQUESTS - 1) * REQUESTS / 2; // 390
  /** Sum over i in [0, 20) of 5 + i. */
  static final long OUTPUT_TOKEN_SUM = 5L * REQUESTS + (REQUESTS - 1) * REQUESTS / 2; // 290

  @Test
  void countsTwentyRequests() {
    EngineMetrics metrics = newMetrics(MODEL).forModel(MODEL);
    simulateTwentyRequests(metrics);
    assertEquals(new Observed(REQUESTS, 1, REQUESTS, PROMPT_TOKEN_SUM, OUTPUT_TOKEN_SUM, 2, 3, 2, 1),
        observed(metrics));
  }

  @Test
  void neverThrowsOnEdgeValues() {
    EngineMetrics metrics = newMetrics(MODEL);
    metrics.onStep(-1, -1, Double.NaN, -5);
    metrics.onStep(0, 0, 1.5, 0);
    metrics.onStep(0, 0, -0.5, 0);
    metrics.onFirstToken("chat", -1);
    metrics.onRequestFinished("chat", new Usage(0, 0, 0), FinishReason.CANCELLED, 0, 0);
    metrics.onRequestFinished("chat", new Usage(1, 1, 1), FinishReason.TIMEOUT, -3, -3);
    metrics.onRequestFailed("chat", null, 0);
    metrics.onRequestFailed("chat", "", -1);
    metrics.onPrefixCacheLookup(5, 0);
    metrics.onPrefixCacheLookup(0, 0);
    for (Limit limit : Limit.values()) {
      metrics.onRateLimited(limit);
    }
    Observed o = observed(metrics);
    assertEquals(2, o.finishedRequests());
    assertEquals(2, o.failedRequests());
    assertEquals(3, o.rateLimited());
  }

  @Test
  void concurrentCallersLoseNothing() throws Exception {
    EngineMetrics metrics = newMetrics(MODEL);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      Thread thread = new Thread(() -> {
        for (int i = 0; i < 2_000; i++) {
          metrics.onResponseCacheLookup(i % 2 == 0);
          metrics.onRequestFinished(i % 2 == 0 ? "chat" : "text_completion", new Usage(3, 2, 0), FinishReason.STOP,
              1_000, 500);
        }
      });
      threads.add(thread);
      thread.start();
    }
    for (Thread thread : threads) {
      thread.join();
    }
    Observed o = observed(metrics);
    assertEquals(4_000, o.responseCacheHits());
    assertEquals(4_000, o.responseCacheMisses());
    assertEquals(8_000, o.finishedRequests());
    assertEquals(24_000, o.promptTokens());
  }

  @Test
  void forModelGivesAUsableSink() {
    EngineMetrics other = newMetrics(MODEL).forModel("glm-4.5-air");
    assertNotNull(other);
    other.onPreemption();
  }
}

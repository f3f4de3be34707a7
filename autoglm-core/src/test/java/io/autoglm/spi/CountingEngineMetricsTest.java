package io.autoglm.spi;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.RateLimitExceededException.Limit;
import java.util.concurrent.atomic.LongAdder;

/** A second, minimal metrics sink (plain adders) held to the same contract. */
class CountingEngineMetricsTest extends EngineMetricsContract {

  static final class CountingEngineMetrics implements EngineMetrics {
    final LongAdder finished = new LongAdder();
    final LongAdder failed = new LongAdder();
    final LongAdder firstTokens = new LongAdder();
    final LongAdder promptTokens = new LongAdder();
    final LongAdder generationTokens = new LongAdder();
    final LongAdder preemptions = new LongAdder();
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder rateLimited = new LongAdder();

    @Override
    public void onFirstToken(String operationName, long timeToFirstTokenNanos) {
      firstTokens.increment();
    }

    @Override
    public void onRequestFinished(String operationName, Usage usage, FinishReason finishReason, long durationNanos,
        long decodeNanos) {
      finished.increment();
      promptTokens.add(usage.promptTokens());
      generationTokens.add(usage.completionTokens());
    }

    @Override
    public void onRequestFailed(String operationName, String errorType, long durationNanos) {
      failed.increment();
    }

    @Override
    public void onPreemption() {
      preemptions.increment();
    }

    @Override
    public void onResponseCacheLookup(boolean hit) {
      (hit ? hits : misses).increment();
    }

    @Override
    public void onRateLimited(Limit limit) {
      rateLimited.increment();
    }
  }

  @Override
  protected EngineMetrics newMetrics(String modelId) {
    return new CountingEngineMetrics();
  }

  @Override
  protected Observed observed(EngineMetrics metrics) {
    CountingEngineMetrics m = (CountingEngineMetrics) metrics;
    return new Observed(m.finished.sum(), m.failed.sum(), m.firstTokens.sum(), m.promptTokens.sum(),
        m.generationTokens.sum(), m.preemptions.sum(), m.hits.sum(), m.misses.sum(), m.rateLimited.sum());
  }
}

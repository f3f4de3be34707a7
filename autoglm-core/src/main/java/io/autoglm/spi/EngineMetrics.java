package io.autoglm.spi;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult.Usage;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * What the engine reports as it runs: callbacks it calls at fixed points, each a no-op by default so an
 * implementation overrides only what it records. {@link #none()} records nothing and costs a call to an empty method.
 *
 * <p>Who calls what, and when:
 * <ul>
 *   <li>the engine thread, once per step: {@link #onStep}, {@link #onPreemption}, {@link #onPrefixCacheLookup},
 *       {@link #onFirstToken}, {@link #onInterTokenLatency}, {@link #onRequestFinished}, {@link #onRequestFailed};</li>
 *   <li>caller threads, before a request reaches the engine: {@link #onResponseCacheLookup}, {@link #onRateLimited}.</li>
 * </ul>
 * So implementations must be thread-safe, must not block and must not throw. Durations are monotonic nanoseconds
 * measured from the moment the engine accepted the request. {@code operationName} is an OpenTelemetry
 * {@code gen_ai.operation.name}: {@code chat} or {@code text_completion}.
 */
public interface EngineMetrics {

  /**
   * After each engine step, and once with zeros when the engine goes idle.
   *
   * @param kvCacheUsage used KV blocks over all blocks, in [0, 1]
   * @param batchTokens tokens the step ran through the model (prefill chunks plus one per decoding request)
   */
  default void onStep(int runningRequests, int waitingRequests, double kvCacheUsage, int batchTokens) {}

  /** When a request's first output token is sampled. */
  default void onFirstToken(String operationName, long timeToFirstTokenNanos) {}

  /** When a request's output token after the first is sampled: the time since its previous one. */
  default void onInterTokenLatency(String operationName, long nanos) {}

  /**
   * When a request ends with a result (any {@link FinishReason}).
   *
   * @param durationNanos from acceptance to the last token
   * @param decodeNanos from the first output token to the last; 0 with fewer than two output tokens
   */
  default void onRequestFinished(String operationName, Usage usage, FinishReason finishReason, long durationNanos,
      long decodeNanos) {}

  /**
   * When a request ends with an error instead of a result.
   *
   * @param errorType the OpenTelemetry {@code error.type}: the exception's simple class name, or a short code
   */
  default void onRequestFailed(String operationName, String errorType, long durationNanos) {}

  /** When the scheduler preempts a running request to free KV blocks. */
  default void onPreemption() {}

  /** When a request's prompt is matched against the prefix cache: {@code hitTokens} of {@code queriedTokens} reused. */
  default void onPrefixCacheLookup(int hitTokens, int queriedTokens) {}

  /** When a request with a {@link ResponseCache.Key} is looked up in the {@link ResponseCache}. */
  default void onResponseCacheLookup(boolean hit) {}

  /** When the {@link RateLimiter} rejects a request. */
  default void onRateLimited(RateLimitExceededException.Limit limit) {}

  /**
   * The sink for one model's engine; the engine calls this once when it starts and reports to the result.
   * Implementations that tag by model return a bound copy.
   */
  default EngineMetrics forModel(String modelId) {
    return this;
  }

  /** Records nothing. */
  static EngineMetrics none() {
    return NoOps.ENGINE_METRICS;
  }

  /**
   * Micrometer meters with OpenTelemetry GenAI names and buckets, tagged {@code gen_ai.request.model=modelId}. See
   * {@code MicrometerEngineMetrics} for the list.
   */
  static EngineMetrics micrometer(MeterRegistry registry, String modelId) {
    return new MicrometerEngineMetrics(registry, modelId);
  }
}

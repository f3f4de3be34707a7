package io.autoglm.spi;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.RateLimitExceededException.Limit;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The default {@link EngineMetrics}: Micrometer meters, every one tagged {@code gen_ai.request.model}.
 *
 * <p>OpenTelemetry GenAI histograms, with the semantic conventions' explicit bucket boundaries (seconds for times):
 * {@value #TOKEN_USAGE} (tag {@code gen_ai.token.type=input|output}), {@value #REQUEST_DURATION} (tag
 * {@code error.type}, empty on success), {@value #TIME_TO_FIRST_TOKEN}, {@value #TIME_PER_OUTPUT_TOKEN} (one
 * sample per request: decode time over output tokens after the first); all tagged {@code gen_ai.operation.name}.
 * Operational meters, named {@code autoglm.*}: running/waiting requests, KV cache usage, batch tokens per step,
 * prompt/generation token counters, finished requests by {@code gen_ai.response.finish_reasons}, failed requests by
 * {@code error.type}, response-cache lookups by {@code result=hit|miss}, rate-limit rejections by {@code limit},
 * prefix-cache queried/hit tokens and hit ratio, preemptions. Besides, the vLLM names autoscalers use
 * ({@link VllmMeters}). Hot-path callbacks touch only meters made up front.
 */
final class MicrometerEngineMetrics implements EngineMetrics {
  static final String TOKEN_USAGE = "gen_ai.client.token.usage";
  static final String REQUEST_DURATION = "gen_ai.server.request.duration";
  static final String TIME_TO_FIRST_TOKEN = "gen_ai.server.time_to_first_token";
  static final String TIME_PER_OUTPUT_TOKEN = "gen_ai.server.time_per_output_token";

  // The OpenTelemetry GenAI semantic conventions' ExplicitBucketBoundaries for each histogram.
  static final double[] TOKEN_USAGE_BUCKETS = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
      4194304, 16777216, 67108864};
  static final double[] REQUEST_DURATION_BUCKETS_SECONDS = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56,
      5.12, 10.24, 20.48, 40.96, 81.92};
  static final double[] TIME_TO_FIRST_TOKEN_BUCKETS_SECONDS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
      0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0};
  static final double[] TIME_PER_OUTPUT_TOKEN_BUCKETS_SECONDS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4,
      0.5, 0.75, 1.0, 2.5};

  static final String MODEL = "gen_ai.request.model";
  static final String OPERATION = "gen_ai.operation.name";
  static final String TOKEN_TYPE = "gen_ai.token.type";
  static final String FINISH_REASONS = "gen_ai.response.finish_reasons";
  static final String ERROR_TYPE = "error.type";
  private static final String UNKNOWN_OPERATION = "unknown";

  private final MeterRegistry registry;
  private final String modelId;
  private final Tags modelTags;

  private volatile int runningRequests;
  private volatile int waitingRequests;
  private volatile double kvCacheUsage;
  private final DistributionSummary batchTokens;
  private final Counter promptTokens;
  private final Counter generationTokens;
  private final Counter preemptions;
  private final Counter responseCacheHits;
  private final Counter responseCacheMisses;
  private final Counter prefixQueriedTokens;
  private final Counter prefixHitTokens;
  private final Map<FinishReason, Counter> finished = new EnumMap<>(FinishReason.class);
  private final Map<Limit, Counter> rateLimited = new EnumMap<>(Limit.class);
  private final Map<String, OperationMeters> operations = new ConcurrentHashMap<>();
  private final VllmMeters vllm;

  MicrometerEngineMetrics(MeterRegistry registry, String modelId) {
    this.registry = Objects.requireNonNull(registry, "registry must not be null");
    this.modelId = Objects.requireNonNull(modelId, "modelId must not be null");
    this.modelTags = Tags.of(MODEL, modelId);
    this.vllm = new VllmMeters(registry, modelId);
    Gauge.builder("autoglm.requests.running", this, m -> m.runningRequests).tags(modelTags).strongReference(true)
        .description("Requests in the running batch").register(registry);
    Gauge.builder("autoglm.requests.waiting", this, m -> m.waitingRequests).tags(modelTags).strongReference(true)
        .description("Requests queued for the running batch").register(registry);
    Gauge.builder("autoglm.kv.cache.usage", this, m -> m.kvCacheUsage).tags(modelTags).strongReference(true)
        .description("Used KV cache blocks over all blocks, 0 to 1").register(registry);
    Gauge.builder("autoglm.prefix.cache.hit.ratio", this, MicrometerEngineMetrics::prefixHitRatio).tags(modelTags)
        .strongReference(true).description("Prompt tokens reused from the prefix cache over prompt tokens looked up")
        .register(registry);
    batchTokens = DistributionSummary.builder("autoglm.batch.tokens").tags(modelTags)
        .description("Tokens run through the model per engine step").register(registry);
    promptTokens = counter("autoglm.prompt.tokens", "Prompt tokens of finished requests");
    generationTokens = counter("autoglm.generation.tokens", "Tokens generated by finished requests");
    preemptions = counter("autoglm.preemptions", "Running requests preempted to free KV blocks");
    responseCacheHits = Counter.builder("autoglm.response.cache.lookups").tags(modelTags).tag("result", "hit")
        .description("Response cache lookups of deterministic requests").register(registry);
    responseCacheMisses = Counter.builder("autoglm.response.cache.lookups").tags(modelTags).tag("result", "miss")
        .description("Response cache lookups of deterministic requests").register(registry);
    prefixQueriedTokens = counter("autoglm.prefix.cache.queried.tokens", "Prompt tokens looked up in the prefix cache");
    prefixHitTokens = counter("autoglm.prefix.cache.hit.tokens", "Prompt tokens reused from the prefix cache");
    for (FinishReason reason : FinishReason.values()) {
      finished.put(reason, Counter.builder("autoglm.requests.finished").tags(modelTags)
          .tag(FINISH_REASONS, reason.openAiName()).description("Requests that ended with a result")
          .register(registry));
    }
    for (Limit limit : Limit.values()) {
      rateLimited.put(limit, Counter.builder("autoglm.rate.limit.rejections").tags(modelTags)
          .tag("limit", limit.name().toLowerCase(Locale.ROOT)).description("Requests rejected by the rate limiter")
          .register(registry));
    }
  }

  private Counter counter(String name, String description) {
    return Counter.builder(name).tags(modelTags).description(description).register(registry);
  }

  private double prefixHitRatio() {
    double queried = prefixQueriedTokens.count();
    return queried == 0 ? 0 : prefixHitTokens.count() / queried;
  }

  @Override
  public void onStep(int runningRequests, int waitingRequests, double kvCacheUsage, int batchTokens) {
    this.runningRequests = Math.max(0, runningRequests);
    this.waitingRequests = Math.max(0, waitingRequests);
    this.kvCacheUsage = kvCacheUsage >= 0 ? Math.min(1, kvCacheUsage) : 0; // NaN and negatives read as 0
    vllm.onStep(this.runningRequests, this.waitingRequests, this.kvCacheUsage);
    if (batchTokens > 0) {
      this.batchTokens.record(batchTokens);
    }
  }

  @Override
  public void onFirstToken(String operationName, long timeToFirstTokenNanos) {
    operation(operationName).timeToFirstToken.record(Math.max(0, timeToFirstTokenNanos), TimeUnit.NANOSECONDS);
    vllm.onFirstToken(Math.max(0, timeToFirstTokenNanos));
  }

  @Override
  public void onInterTokenLatency(String operationName, long nanos) {
    vllm.onInterTokenLatency(Math.max(0, nanos));
  }

  @Override
  public void onRequestFinished(String operationName, Usage usage, FinishReason finishReason, long durationNanos,
      long decodeNanos) {
    OperationMeters meters = operation(operationName);
    meters.inputTokens.record(usage.promptTokens());
    meters.outputTokens.record(usage.completionTokens());
    meters.duration.record(Math.max(0, durationNanos), TimeUnit.NANOSECONDS);
    if (usage.completionTokens() >= 2) {
      meters.timePerOutputToken.record(Math.max(0, decodeNanos) / (usage.completionTokens() - 1),
          TimeUnit.NANOSECONDS);
    }
    promptTokens.increment(usage.promptTokens());
    generationTokens.increment(usage.completionTokens());
    finished.get(finishReason).increment();
  }

  @Override
  public void onRequestFailed(String operationName, String errorType, long durationNanos) {
    operationName = Objects.requireNonNullElse(operationName, UNKNOWN_OPERATION);
    String type = errorType == null || errorType.isEmpty() ? "_OTHER" : errorType; // OTel's fallback value
    requestDuration(operationName, type).record(Math.max(0, durationNanos), TimeUnit.NANOSECONDS);
    Counter.builder("autoglm.requests.failed").tags(modelTags).tag(OPERATION, operationName).tag(ERROR_TYPE, type)
        .description("Requests that ended with an error").register(registry).increment();
  }

  @Override
  public void onPreemption() {
    preemptions.increment();
    vllm.onPreemption();
  }

  @Override
  public void onPrefixCacheLookup(int hitTokens, int queriedTokens) {
    prefixQueriedTokens.increment(Math.max(0, queriedTokens));
    prefixHitTokens.increment(Math.max(0, Math.min(hitTokens, queriedTokens)));
    vllm.onPrefixCacheLookup(Math.max(0, Math.min(hitTokens, queriedTokens)), Math.max(0, queriedTokens));
  }

  @Override
  public void onResponseCacheLookup(boolean hit) {
    (hit ? responseCacheHits : responseCacheMisses).increment();
  }

  @Override
  public void onRateLimited(Limit limit) {
    rateLimited.get(limit).increment();
  }

  @Override
  public EngineMetrics forModel(String modelId) {
    return this.modelId.equals(modelId) ? this : new MicrometerEngineMetrics(registry, modelId);
  }

  private OperationMeters operation(String operationName) {
    operationName = Objects.requireNonNullElse(operationName, UNKNOWN_OPERATION);
    OperationMeters meters = operations.get(operationName);
    return meters != null ? meters : operations.computeIfAbsent(operationName, this::newOperationMeters);
  }

  private OperationMeters newOperationMeters(String operationName) {
    Tags tags = modelTags.and(OPERATION, operationName);
    return new OperationMeters(
        tokenUsage(tags, "input"),
        tokenUsage(tags, "output"),
        requestDuration(operationName, ""),
        timer(TIME_TO_FIRST_TOKEN, tags, TIME_TO_FIRST_TOKEN_BUCKETS_SECONDS,
            "Time to generate first token for successful responses"),
        timer(TIME_PER_OUTPUT_TOKEN, tags, TIME_PER_OUTPUT_TOKEN_BUCKETS_SECONDS,
            "Time per output token generated after the first token for successful responses"));
  }

  private DistributionSummary tokenUsage(Tags tags, String tokenType) {
    return DistributionSummary.builder(TOKEN_USAGE).tags(tags).tag(TOKEN_TYPE, tokenType)
        .serviceLevelObjectives(TOKEN_USAGE_BUCKETS).description("Number of input and output tokens used")
        .register(registry);
  }

  private Timer requestDuration(String operationName, String errorType) {
    return timer(REQUEST_DURATION, modelTags.and(OPERATION, operationName).and(ERROR_TYPE, errorType),
        REQUEST_DURATION_BUCKETS_SECONDS,
        "Generative AI server request duration such as time-to-last byte or last output token");
  }

  private Timer timer(String name, Tags tags, double[] bucketsSeconds, String description) {
    Duration[] slos = Arrays.stream(bucketsSeconds).mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9)))
        .toArray(Duration[]::new);
    return Timer.builder(name).tags(tags).serviceLevelObjectives(slos).description(description).register(registry);
  }

  private record OperationMeters(DistributionSummary inputTokens, DistributionSummary outputTokens, Timer duration,
      Timer timeToFirstToken, Timer timePerOutputToken) {}
}

package io.autoglm.spi;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The vLLM names that autoscalers (HPA, KEDA) and dashboards already query, beside {@link MicrometerEngineMetrics}'s
 * own, tagged {@code model_name} like vLLM's: gauges {@code vllm:num_requests_running},
 * {@code vllm:num_requests_waiting}, {@code vllm:kv_cache_usage_perc} (a fraction, 0 to 1, as vLLM reports it);
 * histograms {@code vllm:time_to_first_token_seconds} and {@code vllm:inter_token_latency_seconds} (one sample per
 * gap between two output tokens) with vLLM's buckets; counters {@code vllm:prefix_cache_queries_total},
 * {@code vllm:prefix_cache_hits_total} (tokens) and {@code vllm:num_preemptions_total}.
 *
 * <p>The gauges read a state shared by every sink of one registry and model name, so an engine that replaces another
 * of the same name (a hot swap to a new version) reports through the gauges the first one registered.
 */
final class VllmMeters {
  static final String MODEL_NAME = "model_name";
  // vLLM's own bucket boundaries (vllm/v1/metrics/loggers.py).
  static final double[] TTFT_BUCKETS_SECONDS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
      1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
  static final double[] ITL_BUCKETS_SECONDS = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
      2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};

  /** The gauges' values for one registry and model name. */
  static final class GaugeState {
    volatile int running;
    volatile int waiting;
    volatile double kvUsage;
  }

  private static final Map<MeterRegistry, Map<String, GaugeState>> STATES =
      java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

  private final GaugeState state;
  private final Timer timeToFirstToken;
  private final Timer interTokenLatency;
  private final Counter prefixQueries;
  private final Counter prefixHits;
  private final Counter preemptions;

  VllmMeters(MeterRegistry registry, String modelId) {
    Tags tags = Tags.of(MODEL_NAME, modelId);
    state = STATES.computeIfAbsent(registry, r -> new ConcurrentHashMap<>())
        .computeIfAbsent(modelId, id -> new GaugeState());
    Gauge.builder("vllm:num_requests_running", state, s -> s.running).tags(tags).strongReference(true)
        .description("Number of requests in model execution batches").register(registry);
    Gauge.builder("vllm:num_requests_waiting", state, s -> s.waiting).tags(tags).strongReference(true)
        .description("Number of requests waiting to be processed").register(registry);
    Gauge.builder("vllm:kv_cache_usage_perc", state, s -> s.kvUsage).tags(tags).strongReference(true)
        .description("KV-cache usage. 1 means 100 percent usage").register(registry);
    timeToFirstToken = timer("vllm:time_to_first_token", tags, TTFT_BUCKETS_SECONDS,
        "Histogram of time to first token in seconds", registry);
    interTokenLatency = timer("vllm:inter_token_latency", tags, ITL_BUCKETS_SECONDS,
        "Histogram of inter-token latency in seconds", registry);
    prefixQueries = Counter.builder("vllm:prefix_cache_queries").tags(tags)
        .description("Prefix cache queries, in terms of number of queried tokens").register(registry);
    prefixHits = Counter.builder("vllm:prefix_cache_hits").tags(tags)
        .description("Prefix cache hits, in terms of number of cached tokens").register(registry);
    preemptions = Counter.builder("vllm:num_preemptions").tags(tags)
        .description("Cumulative number of preemption from the engine").register(registry);
  }

  private static Timer timer(String name, Tags tags, double[] bucketsSeconds, String description,
      MeterRegistry registry) {
    Duration[] slos = Arrays.stream(bucketsSeconds).mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9)))
        .toArray(Duration[]::new);
    return Timer.builder(name).tags(tags).serviceLevelObjectives(slos).description(description).register(registry);
  }

  void onStep(int running, int waiting, double kvUsage) {
    state.running = running;
    state.waiting = waiting;
    state.kvUsage = kvUsage;
  }

  void onFirstToken(long nanos) {
    timeToFirstToken.record(nanos, TimeUnit.NANOSECONDS);
  }

  void onInterTokenLatency(long nanos) {
    interTokenLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  void onPrefixCacheLookup(int hitTokens, int queriedTokens) {
    prefixQueries.increment(queriedTokens);
    prefixHits.increment(hitTokens);
  }

  void onPreemption() {
    preemptions.increment();
  }
}

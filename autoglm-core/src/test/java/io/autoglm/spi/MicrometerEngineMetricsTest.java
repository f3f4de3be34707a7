package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The default metrics: the contract, then every meter's value after the twenty simulated requests, and a scrape. */
class MicrometerEngineMetricsTest extends EngineMetricsContract {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @Override
  protected EngineMetrics newMetrics(String modelId) {
    return EngineMetrics.micrometer(registry, modelId);
  }

  @Override
  protected Observed observed(EngineMetrics metrics) {
    return new Observed(
        (long) registry.find("autoglm.requests.finished").tag("gen_ai.request.model", MODEL).counters().stream()
            .mapToDouble(Counter::count).sum(),
        (long) registry.find("autoglm.requests.failed").counters().stream().mapToDouble(Counter::count).sum(),
        registry.find("gen_ai.server.time_to_first_token").timers().stream().mapToLong(Timer::count).sum(),
        (long) registry.get("autoglm.prompt.tokens").tag("gen_ai.request.model", MODEL).counter().count(),
        (long) registry.get("autoglm.generation.tokens").tag("gen_ai.request.model", MODEL).counter().count(),
        (long) registry.get("autoglm.preemptions").tag("gen_ai.request.model", MODEL).counter().count(),
        (long) registry.get("autoglm.response.cache.lookups").tag("result", "hit").counter().count(),
        (long) registry.get("autoglm.response.cache.lookups").tag("result", "miss").counter().count(),
        (long) registry.find("autoglm.rate.limit.rejections").counters().stream().mapToDouble(Counter::count).sum());
  }

  @Test
  void meterValuesAfterTwentyRequests() {
    EngineMetrics metrics = newMetrics(MODEL);
    metrics.onStep(4, 16, 0.25, 64);
    assertEquals(4, registry.get("autoglm.requests.running").gauge().value());
    assertEquals(16, registry.get("autoglm.requests.waiting").gauge().value());
    assertEquals(0.25, registry.get("autoglm.kv.cache.usage").gauge().value());
    simulateTwentyRequests(metrics);

    // Token usage: one input and one output sample per request, summing the prompt and output tokens.
    DistributionSummary input = tokenUsage("chat", "input");
    DistributionSummary output = tokenUsage("text_completion", "output");
    assertEquals(10, input.count());
    assertEquals(10 * 10 + 45, input.totalAmount(), "chat prompts: 10 + i for i in [0, 10)");
    assertEquals(10, output.count());
    assertEquals(10 * 15 + 45, output.totalAmount(), "text outputs: 5 + i for i in [10, 20)");
    assertEquals(PROMPT_TOKEN_SUM, registry.get("autoglm.prompt.tokens").counter().count());
    assertEquals(OUTPUT_TOKEN_SUM, registry.get("autoglm.generation.tokens").counter().count());

    // One TTFT sample per request; the chat half took 1..10 ms.
    Timer chatTtft = registry.get(MicrometerEngineMetrics.TIME_TO_FIRST_TOKEN)
        .tag("gen_ai.operation.name", "chat").timer();
    assertEquals(10, chatTtft.count());
    assertEquals(55, chatTtft.totalTime(TimeUnit.MILLISECONDS), 1e-9);
    assertEquals(20, registry.get(MicrometerEngineMetrics.TIME_TO_FIRST_TOKEN).timers().stream()
        .mapToLong(Timer::count).sum());
    // Time per output token: 4 ms for every request with two or more output tokens (all 20).
    Timer tpot = registry.get(MicrometerEngineMetrics.TIME_PER_OUTPUT_TOKEN)
        .tag("gen_ai.operation.name", "chat").timer();
    assertEquals(10, tpot.count());
    assertEquals(4, tpot.mean(TimeUnit.MILLISECONDS), 1e-9);
    // Request duration: 20 successes (error.type empty) and one failure.
    Timer ok = registry.get(MicrometerEngineMetrics.REQUEST_DURATION).tag("gen_ai.operation.name", "chat")
        .tag("error.type", "").timer();
    assertEquals(10, ok.count());
    assertEquals(1, registry.get(MicrometerEngineMetrics.REQUEST_DURATION)
        .tag("error.type", "IllegalStateException").timer().count());

    assertEquals(10, finished("stop"));
    assertEquals(10, finished("length"));
    assertEquals(0, finished("cancelled"));
    assertEquals(1, registry.get("autoglm.rate.limit.rejections").tag("limit", "tokens_per_minute").counter()
        .count());
    assertEquals(2, registry.get("autoglm.preemptions").counter().count());
    // Prefix cache: 8 of the even requests' prompt tokens hit; queried = all prompt tokens.
    assertEquals(PROMPT_TOKEN_SUM, registry.get("autoglm.prefix.cache.queried.tokens").counter().count());
    assertEquals(80, registry.get("autoglm.prefix.cache.hit.tokens").counter().count());
    assertEquals(80.0 / PROMPT_TOKEN_SUM, registry.get("autoglm.prefix.cache.hit.ratio").gauge().value(), 1e-12);
    // The last step reported an idle engine.
    assertEquals(0, registry.get("autoglm.requests.running").gauge().value());
    assertEquals(2, registry.get("autoglm.batch.tokens").summary().count(),
        "two busy steps; the idle one is not a batch");
  }

  @Test
  void histogramsUseTheOpenTelemetryBuckets() {
    EngineMetrics metrics = newMetrics(MODEL);
    simulateTwentyRequests(metrics);
    assertArrayEquals(MicrometerEngineMetrics.TOKEN_USAGE_BUCKETS, buckets(tokenUsage("chat", "input")
        .takeSnapshot().histogramCounts(), TimeUnit.NANOSECONDS, false));
    Timer ttft = registry.get(MicrometerEngineMetrics.TIME_TO_FIRST_TOKEN).tag("gen_ai.operation.name", "chat")
        .timer();
    assertArrayEquals(MicrometerEngineMetrics.TIME_TO_FIRST_TOKEN_BUCKETS_SECONDS,
        buckets(ttft.takeSnapshot().histogramCounts(), TimeUnit.SECONDS, true));
    Timer tpot = registry.get(MicrometerEngineMetrics.TIME_PER_OUTPUT_TOKEN).tag("gen_ai.operation.name", "chat")
        .timer();
    assertArrayEquals(MicrometerEngineMetrics.TIME_PER_OUTPUT_TOKEN_BUCKETS_SECONDS,
        buckets(tpot.takeSnapshot().histogramCounts(), TimeUnit.SECONDS, true));
    Timer duration = registry.get(MicrometerEngineMetrics.REQUEST_DURATION).tag("gen_ai.operation.name", "chat")
        .tag("error.type", "").timer();
    assertArrayEquals(MicrometerEngineMetrics.REQUEST_DURATION_BUCKETS_SECONDS,
        buckets(duration.takeSnapshot().histogramCounts(), TimeUnit.SECONDS, true));
    // The chat TTFTs of 1..10 ms: 1 at <= 1 ms, 5 at <= 5 ms, all 10 at <= 10 ms.
    CountAtBucket[] counts = ttft.takeSnapshot().histogramCounts();
    assertEquals(List.of(1.0, 5.0, 10.0), Arrays.stream(counts).limit(3).map(CountAtBucket::count).toList());
  }

  @Test
  void forModelTagsAnotherModelAndKeepsTheSame() {
    EngineMetrics metrics = newMetrics(MODEL);
    assertSame(metrics, metrics.forModel(MODEL));
    metrics.forModel("glm-4.5-air").onPreemption();
    assertEquals(1, registry.get("autoglm.preemptions").tag("gen_ai.request.model", "glm-4.5-air").counter()
        .count());
    assertEquals(0, registry.get("autoglm.preemptions").tag("gen_ai.request.model", MODEL).counter().count());
  }

  @Test
  void prometheusScrapeRendersTheExpectedNames() {
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    simulateTwentyRequests(EngineMetrics.micrometer(prometheus, MODEL));
    String scrape = prometheus.scrape();
    for (String name : List.of(
        "gen_ai_client_token_usage_bucket{gen_ai_operation_name=\"chat\",gen_ai_request_model=\"glm-4-9b\","
            + "gen_ai_token_type=\"input\",le=\"16.0\"} 7", // prompts 10..16
        "gen_ai_server_request_duration_seconds_count{error_type=\"\",gen_ai_operation_name=\"chat\"", // "" = absent
        "gen_ai_server_request_duration_seconds_count{error_type=\"IllegalStateException\"",
        "gen_ai_server_time_to_first_token_seconds_bucket{",
        "gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name=\"chat\",gen_ai_request_model="
            + "\"glm-4-9b\"} 10",
        "gen_ai_server_time_per_output_token_seconds_bucket{",
        "autoglm_requests_running{",
        "autoglm_requests_waiting{",
        "autoglm_kv_cache_usage{",
        "autoglm_prompt_tokens_total{gen_ai_request_model=\"glm-4-9b\"} 390",
        "autoglm_generation_tokens_total{gen_ai_request_model=\"glm-4-9b\"} 290",
        "autoglm_requests_finished_total{gen_ai_request_model=\"glm-4-9b\",gen_ai_response_finish_reasons=\"stop\"} 10",
        "autoglm_requests_failed_total{",
        "autoglm_response_cache_lookups_total{gen_ai_request_model=\"glm-4-9b\",result=\"hit\"} 3",
        "autoglm_rate_limit_rejections_total{",
        "autoglm_prefix_cache_hit_ratio{",
        "autoglm_preemptions_total{gen_ai_request_model=\"glm-4-9b\"} 2")) {
      assertTrue(scrape.contains(name), "scrape lacks " + name + "\n" + scrape);
    }
  }

  private DistributionSummary tokenUsage(String operation, String tokenType) {
    return registry.get(MicrometerEngineMetrics.TOKEN_USAGE).tag("gen_ai.operation.name", operation)
        .tag("gen_ai.token.type", tokenType).summary();
  }

  private double finished(String reason) {
    return registry.get("autoglm.requests.finished").tag("gen_ai.response.finish_reasons", reason).counter().count();
  }

  private static double[] buckets(CountAtBucket[] counts, TimeUnit unit, boolean isTime) {
    return Arrays.stream(counts).mapToDouble(c -> isTime ? c.bucket(unit) : c.bucket()).toArray();
  }
}

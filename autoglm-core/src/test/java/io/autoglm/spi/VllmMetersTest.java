package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult.Usage;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The vLLM-named series in a Prometheus scrape: the exact names vLLM exposes, values equal to the callbacks', and
 * the gauges of a model id registered twice (a hot swap to a new version) reading the newer sink.
 */
class VllmMetersTest {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

  private double value(String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + "\\{model_name=\"glm\"[^}]*\\} (\\S+)$")
        .matcher(registry.scrape());
    assertTrue(m.find(), series + " is not in the scrape:\n" + registry.scrape());
    return Double.parseDouble(m.group(1));
  }

  private double bucket(String series, String le) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series + "{model_name=\"glm\",le=\"" + le + "\"}")
        + " (\\S+)$").matcher(registry.scrape());
    assertTrue(m.find(), series + " le=" + le + " is not in the scrape");
    return Double.parseDouble(m.group(1));
  }

  @Test
  void seriesCarryVllmNamesAndTheCallbacksValues() {
    EngineMetrics m = EngineMetrics.micrometer(registry, "glm");
    m.onStep(3, 5, 0.5, 40);
    m.onFirstToken("chat", 20_000_000L); // 20 ms
    for (int i = 0; i < 4; i++) {
      m.onInterTokenLatency("chat", 30_000_000L); // 30 ms each
    }
    m.onPrefixCacheLookup(16, 48);
    m.onPrefixCacheLookup(99, 10); // more hits than queried: clamped to the queried tokens
    m.onPreemption();
    m.onRequestFinished("chat", new Usage(48, 5, 16), FinishReason.STOP, 200_000_000L, 120_000_000L);
    assertEquals(3, value("vllm:num_requests_running"));
    assertEquals(5, value("vllm:num_requests_waiting"));
    assertEquals(0.5, value("vllm:kv_cache_usage_perc"));
    assertEquals(1, value("vllm:time_to_first_token_seconds_count"));
    assertEquals(0.02, value("vllm:time_to_first_token_seconds_sum"), 1e-9);
    assertEquals(0, bucket("vllm:time_to_first_token_seconds_bucket", "0.01"));
    assertEquals(1, bucket("vllm:time_to_first_token_seconds_bucket", "0.02"), "vLLM's 20 ms boundary");
    assertEquals(0, bucket("vllm:inter_token_latency_seconds_bucket", "0.025"));
    assertEquals(4, bucket("vllm:inter_token_latency_seconds_bucket", "0.05"), "vLLM's 50 ms boundary");
    assertEquals(4, value("vllm:inter_token_latency_seconds_count"));
    assertEquals(0.12, value("vllm:inter_token_latency_seconds_sum"), 1e-9);
    assertEquals(58, value("vllm:prefix_cache_queries_total"));
    assertEquals(26, value("vllm:prefix_cache_hits_total"));
    assertEquals(1, value("vllm:num_preemptions_total"));
  }

  @Test
  void aSecondSinkOfTheSameModelIdDrivesTheGauges() {
    EngineMetrics old = EngineMetrics.micrometer(registry, "glm");
    old.onStep(7, 2, 0.75, 10);
    EngineMetrics next = EngineMetrics.micrometer(registry, "glm"); // the swapped-in version, same id
    next.onStep(1, 0, 0.125, 4);
    assertEquals(1, value("vllm:num_requests_running"));
    assertEquals(0.125, value("vllm:kv_cache_usage_perc"));
  }
}

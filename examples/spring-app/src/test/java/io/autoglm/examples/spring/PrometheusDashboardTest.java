package io.autoglm.examples.spring;

import static io.autoglm.examples.spring.HelmChart.at;
import static io.autoglm.examples.spring.HelmChart.list;
import static io.autoglm.examples.spring.HelmChart.sets;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.examples.cli.serve.LengthDistribution;
import io.autoglm.examples.cli.serve.PromptSource;
import io.autoglm.examples.cli.serve.ServeLoad;
import io.autoglm.examples.cli.serve.ServeReport;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The sample app configured by the Helm chart's own ConfigMap (rendered by Helm), scraped by a real Prometheus at
 * the chart's ServiceMonitor path with the labels a ServiceMonitor scrape adds, and loaded with streamed, cached,
 * prefix-sharing and rate-limited traffic. Then: the chart's probes answer UP and its settings reached the app;
 * every query of the Grafana dashboard (read from deploy/grafana/autoglm.json) returns data, and the panels the
 * traffic must move are above zero; every rule of deploy/prometheus/rules.yml is healthy and every recorded series
 * has data; the chart's KEDA queries and the prometheus-adapter rules return data.
 *
 * <p>Dashboard targets tagged {@code "requires": NAME} need what this build may not serve: {@code dcgm-exporter}
 * (GPU memory) and {@code vllm-metrics} (the vLLM-named aliases). They are checked only when NAME is listed in
 * {@code -Dautoglm.dashboard.requires=NAME,...}; every other target is checked.
 */
class PrometheusDashboardTest {
  static final String NAMESPACE = "autoglm-test";
  static final String RELEASE = "glm";
  static final Set<String> KNOWN_REQUIREMENTS = Set.of("dcgm-exporter", "vllm-metrics");
  static final Set<String> MUST_BE_POSITIVE = Set.of("Requests finished /s", "API responses /s by status",
      "Rate-limit rejections /s", "Time to first token", "Inter-token latency (time per output token)",
      "End-to-end request duration", "Tokens /s", "Tokens per engine step", "Output tokens per request",
      "Response cache hit ratio", "Prefix cache hit ratio", "JVM heap used");

  @TempDir static Path dir;
  static HelmChart.Rendered chart;
  static SampleApp app;
  static PrometheusServer prometheus;

  @BeforeAll
  static void start() throws Exception {
    Optional<Path> binary = PrometheusServer.binary();
    if (binary.isEmpty() && System.getenv("CI") != null) {
      throw new AssertionError("no prometheus binary: .ci/run installs Debian's prometheus package");
    }
    Assumptions.assumeTrue(binary.isPresent(), "no prometheus on the PATH (apt-get install prometheus)");
    Path model = SampleApp.model(dir);
    chart = HelmChart.template(RELEASE, NAMESPACE, sets("model.path", model.toString(),
        "model.tokenizerPath", SampleApp.fixtures().resolve("tokenizers/glm-4-9b-chat-hf").toString(),
        "engine.backend", "cpu", "engine.kvBlocks", "1024", "shutdown.timeoutSeconds", "45",
        "cache.enabled", "true", "rateLimit.requestsPerMinute", "60", "rateLimit.requestBurst", "40",
        "serviceMonitor.enabled", "true", "autoscaling.enabled", "true", "autoscaling.mode", "keda"));
    Path config = Files.createDirectories(dir.resolve("config"));
    Files.writeString(config.resolve("application.yaml"),
        (String) HelmChart.map(chart.one("ConfigMap").get("data")).get("application.yaml"));
    // the chart's container args, and free ports for the fixed ones of the pod
    app = SampleApp.start(model, Map.of(), "--spring.config.additional-location=file:" + config + "/",
        "--server.port=0", "--management.server.port=0",
        "--management.endpoint.health.group.readiness.show-components=always"); // to see autoglm in the group
    // one streamed request first, so the lazily made histograms exist before the first scrape and the traffic
    // below moves them between scrapes (rate() needs a sample from before it)
    assertThat(post("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,"
        + "\"stream\":true}").statusCode()).isEqualTo(200);
    prometheus = new PrometheusServer(binary.get(), Files.createDirectories(dir.resolve("prometheus")),
        prometheusConfig());
    PrometheusServer.await("a scrape before the traffic", Duration.ofSeconds(60),
        () -> !values("gen_ai_server_time_to_first_token_seconds_count").isEmpty());
    traffic();
    // the flood's cache hits and 429s take milliseconds and generate nothing: wait for every counter it moves
    for (String counter : List.of("autoglm_generation_tokens_total", "autoglm_rate_limit_rejections_total",
        "autoglm_response_cache_lookups_total", "autoglm_requests_finished_total")) {
      double now = app.scrapeSum(counter);
      PrometheusServer.await("a scrape of " + counter + " = " + now, Duration.ofSeconds(60),
          () -> values("sum(" + counter + ")").stream().anyMatch(v -> v == now));
    }
    PrometheusServer.await("every rule evaluated", Duration.ofSeconds(60), () -> rules().stream()
        .allMatch(r -> !r.get("lastEvaluation").getAsString().startsWith("0001")));
  }

  /** One scrape job as a ServiceMonitor makes it: its path, and the namespace / service / pod target labels. */
  static String prometheusConfig() {
    Map<String, Object> endpoint = HelmChart.map(at(chart.one("ServiceMonitor"), "spec.endpoints.0"));
    String service = (String) at(chart.one("Service"), "metadata.name");
    return """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files:
          - %s
        scrape_configs:
          - job_name: %s/%s
            metrics_path: %s
            static_configs:
              - targets: ['127.0.0.1:%d']
                labels: {namespace: %s, service: %s, pod: %s-0}
        """.formatted(SampleApp.repoRoot().resolve("deploy/prometheus/rules.yml"), NAMESPACE, service,
        endpoint.get("path"), app.managementPort, NAMESPACE, service, service);
  }

  /**
   * Streamed requests through bench-serve's load generator; identical greedy requests from one user, past its
   * rate-limit burst (429s) and repeated (response-cache hits); requests sharing a long prefix (prefix-cache hits).
   */
  static void traffic() throws Exception {
    ServeReport streamed = new ServeLoad(new ServeLoad.Settings(URI.create(app.url()), null, null, 24,
        Double.POSITIVE_INFINITY, 8, 0, true, Duration.ofMinutes(2), 5), null)
        .run(PromptSource.synthetic(new LengthDistribution.Uniform(8, 40), new LengthDistribution.Fixed(8), 5));
    assertThat(streamed.failed()).as(streamed.errors().toString()).isZero();
    String shared = "Once upon a time a ship sailed the sea with a crew of old men who knew the wind and the light "
        .repeat(3);
    for (int i = 0; i < 4; i++) {
      assertThat(post("{\"messages\":[{\"role\":\"user\",\"content\":\"" + shared + i + "\"}],\"max_tokens\":2,"
          + "\"temperature\":1,\"user\":\"prefix\"}").statusCode()).isEqualTo(200);
    }
    String same = "{\"messages\":[{\"role\":\"user\",\"content\":\"Same question\"}],\"max_tokens\":2,"
        + "\"temperature\":0,\"user\":\"flood\"}";
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Integer>> codes = new ArrayList<>();
      for (int i = 0; i < 60; i++) {
        codes.add(pool.submit(() -> post(same).statusCode()));
      }
      Map<Integer, Integer> counts = new LinkedHashMap<>();
      for (Future<Integer> f : codes) {
        counts.merge(f.get(), 1, Integer::sum);
      }
      System.out.println("flood answers by status: " + counts);
      assertThat(counts.keySet()).as(counts.toString()).containsExactlyInAnyOrder(200, 429);
    } finally {
      pool.shutdown();
    }
  }

  static HttpResponse<String> post(String body) throws IOException, InterruptedException {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(app.url() + "/v1/chat/completions"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
        .timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @AfterAll
  static void stop() throws InterruptedException {
    if (prometheus != null) {
      prometheus.close();
    }
    if (app != null) {
      app.close();
    }
  }

  /** The values of an instant vector (or scalar) query. */
  static List<Double> values(String promql) {
    JsonObject data = prometheus.query(promql);
    List<Double> out = new ArrayList<>();
    if (data.get("resultType").getAsString().equals("scalar")) {
      out.add(Double.parseDouble(data.getAsJsonArray("result").get(1).getAsString()));
      return out;
    }
    for (JsonElement e : data.getAsJsonArray("result")) {
      out.add(Double.parseDouble(e.getAsJsonObject().getAsJsonArray("value").get(1).getAsString()));
    }
    return out;
  }

  static List<JsonObject> rules() {
    List<JsonObject> rules = new ArrayList<>();
    for (JsonElement g : prometheus.api("/api/v1/rules").getAsJsonArray("groups")) {
      g.getAsJsonObject().getAsJsonArray("rules").forEach(r -> rules.add(r.getAsJsonObject()));
    }
    return rules;
  }

  @Test
  void theChartsProbesAnswerUpAndItsSettingsReachedTheApp() {
    Map<String, Object> c = HelmChart.map(at(chart.one("Deployment"), "spec.template.spec.containers.0"));
    for (String probe : List.of("startupProbe", "readinessProbe", "livenessProbe")) {
      HttpResponse<String> r = app.get((String) at(c, probe + ".httpGet.path"));
      assertThat(r.statusCode()).as(probe).isEqualTo(200);
      assertThat(JsonParser.parseString(r.body()).getAsJsonObject().get("status").getAsString()).isEqualTo("UP");
    }
    String readiness = app.get("/actuator/health/readiness").body();
    assertThat(readiness).as(readiness).contains("\"autoglm\"");
    JsonObject s = JsonParser.parseString(app.get("/actuator/autoglm").body()).getAsJsonObject()
        .getAsJsonObject("settings");
    assertThat(s.get("shutdownTimeout").getAsString()).isEqualTo("PT45S");
    assertThat(s.get("kvBlocks").getAsInt()).isEqualTo(1024);
    assertThat(s.getAsJsonObject("cache").get("enabled").getAsBoolean()).isTrue();
    assertThat(s.getAsJsonObject("rateLimit").get("requestsPerMinute").getAsInt()).isEqualTo(60);
    assertThat(s.getAsJsonObject("rateLimit").get("requestBurst").getAsInt()).isEqualTo(40);
    assertThat(app.get("/actuator/prometheus").statusCode()).isEqualTo(200);
  }

  @Test
  void everyDashboardQueryReturnsData() throws IOException {
    Set<String> enabled = Arrays.stream(System.getProperty("autoglm.dashboard.requires", "").split(","))
        .map(String::trim).filter(t -> !t.isEmpty()).collect(Collectors.toSet());
    JsonObject dash = JsonParser.parseString(Files.readString(SampleApp.repoRoot()
        .resolve("deploy/grafana/autoglm.json"))).getAsJsonObject();
    List<String> checked = new ArrayList<>();
    Set<String> skipped = new TreeSet<>();
    Set<String> positive = new TreeSet<>();
    for (JsonObject panel : panels(dash.getAsJsonArray("panels"))) {
      String title = panel.get("title").getAsString();
      if (!panel.has("targets")) {
        continue;
      }
      for (JsonElement t : panel.getAsJsonArray("targets")) {
        JsonObject target = t.getAsJsonObject();
        String requires = target.has("requires") ? target.get("requires").getAsString() : null;
        assertThat(requires == null || KNOWN_REQUIREMENTS.contains(requires)).as(title + ": requires " + requires)
            .isTrue();
        String expr = grafana(target.get("expr").getAsString());
        if (requires != null && !enabled.contains(requires)) {
          values(expr); // it must still parse and evaluate; its data may be absent here
          skipped.add(requires + ": " + title + " / " + target.get("refId").getAsString());
          continue;
        }
        List<Double> v = values(expr);
        assertThat(v).as("%s (%s): %s", title, target.get("refId").getAsString(), expr).isNotEmpty();
        if (v.stream().anyMatch(x -> x > 0)) {
          positive.add(title);
        }
        checked.add(title + " / " + target.get("refId").getAsString());
      }
    }
    System.out.println("dashboard targets checked: " + checked.size() + ", skipped (requires): " + skipped);
    assertThat(checked).hasSizeGreaterThanOrEqualTo(25);
    assertThat(positive).containsAll(MUST_BE_POSITIVE);
    // the tagged targets are exactly the GPU-memory and vLLM-named ones, nothing else is left out
    assertThat(skipped.stream().map(s -> s.substring(0, s.indexOf(':'))).collect(Collectors.toSet()))
        .isSubsetOf(KNOWN_REQUIREMENTS);
  }

  /** Every panel, rows' nested ones included. */
  static List<JsonObject> panels(JsonArray panels) {
    List<JsonObject> out = new ArrayList<>();
    for (JsonElement e : panels) {
      JsonObject p = e.getAsJsonObject();
      out.add(p);
      if (p.has("panels")) {
        out.addAll(panels(p.getAsJsonArray("panels")));
      }
    }
    return out;
  }

  /** Grafana's variables as a dashboard with every model selected would send them. */
  static String grafana(String expr) {
    String e = expr.replace("$__rate_interval", "1m").replace("$model", ".*");
    assertThat(e).as("an unknown Grafana variable in " + expr).doesNotContain("$");
    return e;
  }

  @Test
  void everyRuleIsHealthyAndEveryRecordingHasData() {
    List<JsonObject> rules = rules();
    assertThat(rules).hasSize(21);
    for (JsonObject r : rules) {
      assertThat(r.get("health").getAsString()).as(r.get("name") + ": " + r.get("lastError")).isEqualTo("ok");
      if (r.get("type").getAsString().equals("recording")) {
        assertThat(values(r.get("name").getAsString())).as(r.get("name").getAsString()).isNotEmpty();
      } else if (r.get("name").getAsString().equals("AutoGLMTargetDown")) {
        assertThat(r.get("state").getAsString()).isEqualTo("inactive"); // the others depend on this VM's speed
      }
    }
    assertThat(values("autoglm:requests:rate5m")).allMatch(v -> v > 0);
    assertThat(values("autoglm:ttft_seconds:p99_5m")).allMatch(v -> v > 0);
  }

  @Test
  void theAutoscalersQueriesReturnData() throws IOException {
    for (Object trigger : list(at(chart.one("ScaledObject"), "spec.triggers"))) {
      String query = (String) at(trigger, "metadata.query");
      assertThat(values(query)).as(query).hasSize(1);
    }
    Map<String, Object> adapter = HelmChart.map(new Yaml().load(Files.readString(SampleApp.repoRoot()
        .resolve("deploy/prometheus/adapter-rules.yaml"))));
    List<Object> custom = list(at(adapter, "rules.custom"));
    assertThat(custom).hasSize(2);
    for (Object rule : custom) {
      String series = (String) at(rule, "seriesQuery");
      assertThat(values(series)).as(series).isNotEmpty();
      String name = (String) at(rule, "name.as");
      // what the adapter sends for the HPA's Pods metric of the release's pods
      String query = ((String) at(rule, "metricsQuery")).replace("<<.Series>>", name)
          .replace("<<.LabelMatchers>>", "namespace=\"" + NAMESPACE + "\",pod=~\"" + RELEASE + "-autoglm-0\"")
          .replace("<<.GroupBy>>", "pod");
      assertThat(values(query)).as(query).hasSize(1);
    }
    List<Object> hpaMetrics = list(at(HelmChart.template(RELEASE, NAMESPACE, sets("autoscaling.enabled", "true",
        "autoscaling.mode", "hpa")).one("HorizontalPodAutoscaler"), "spec.metrics"));
    assertThat(hpaMetrics).extracting(m -> at(m, "pods.metric.name"))
        .containsExactlyElementsOf(custom.stream().map(r -> at(r, "name.as")).toList());
  }
}

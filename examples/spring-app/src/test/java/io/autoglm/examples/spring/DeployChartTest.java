package io.autoglm.examples.spring;

import static io.autoglm.examples.spring.HelmChart.at;
import static io.autoglm.examples.spring.HelmChart.list;
import static io.autoglm.examples.spring.HelmChart.map;
import static io.autoglm.examples.spring.HelmChart.sets;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The Helm chart (deploy/helm/autoglm), linted and rendered by Helm itself: its objects fit together (selectors,
 * ports, the Secret the env reads, the drain timings), each option turns on what it says, bad values are refused
 * by values.schema.json, and every rendered document passes the Kubernetes / KEDA / Gateway API / Prometheus
 * Operator schemas (deploy/check, run through node). PrometheusDashboardTest runs the app on the chart's own
 * ConfigMap and probes.
 */
class DeployChartTest {
  static final Path OUT = Path.of("target/helm-rendered");

  static Map<String, Object> full() {
    return sets("ingress.enabled", "true", "httpRoute.enabled", "true", "serviceMonitor.enabled", "true",
        "apiKeys.keys[0]", "key-a", "apiKeys.keys[1]", "key-b", "redis.enabled", "true", "redis.password", "s3cret",
        "rateLimit.requestsPerMinute", "600", "rateLimit.tokensPerMinute", "200000", "cache.enabled", "true",
        "autoscaling.enabled", "true", "autoscaling.mode", "keda", "engine.kvBlocks", "4096",
        "shutdown.timeoutSeconds", "120", "extraConfig.autoglm.server.request-timeout", "5m");
  }

  static Map<String, Object> hpa() {
    return sets("autoscaling.enabled", "true", "autoscaling.mode", "hpa", "apiKeys.existingSecret", "my-keys",
        "redis.enabled", "true", "redis.existingSecret", "my-redis", "podDisruptionBudget.minAvailable", "1");
  }

  @Test
  void lintsStrictlyClean() {
    LintResult lint = new Helm(HelmChart.DIR).lint().strict().call();
    assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
  }

  @Test
  void defaultsAreAGpuDeploymentBehindAServiceWithADisruptionBudget() {
    HelmChart.Rendered r = HelmChart.template("glm", "serving", Map.of());
    assertThat(r.kinds()).containsExactlyInAnyOrder("ConfigMap", "Service", "Deployment", "PodDisruptionBudget");
    Map<String, Object> d = r.one("Deployment");
    Map<String, Object> c = map(at(d, "spec.template.spec.containers.0"));
    assertThat(at(c, "resources.limits")).isEqualTo(Map.of("nvidia.com/gpu", 1, "memory", "48Gi"));
    assertThat(at(d, "spec.template.spec.nodeSelector")).isEqualTo(Map.of("nvidia.com/gpu.present", "true"));
    assertThat(at(d, "spec.replicas")).isEqualTo(1);
    // probes on the actuator's health groups, on the management port the ConfigMap moves the actuator to
    assertThat(at(c, "readinessProbe.httpGet")).isEqualTo(Map.of("path", "/actuator/health/readiness",
        "port", "management"));
    assertThat(at(c, "livenessProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
    assertThat(at(c, "startupProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
    Map<String, Object> app = HelmChart.applicationYaml(r);
    assertThat(at(app, "management.server.port")).isEqualTo(8081).isEqualTo(port(c, "management"));
    assertThat(at(app, "management.endpoint.health.probes.enabled")).isEqualTo(true);
    assertThat(at(app, "autoglm.model-path")).isEqualTo("/models/glm-4-9b-chat-hf");
    assertThat(at(app, "autoglm.backend")).isEqualTo("cuda");
    assertThat(map(app.get("autoglm"))).doesNotContainKeys("kv-blocks", "rate-limit", "cache", "api-keys");
    assertDrain(d, app, 10, 30);
    // the Service selects the pods and routes to the named ports
    Map<String, Object> svc = r.one("Service");
    assertThat(at(svc, "spec.selector")).isEqualTo(at(d, "spec.selector.matchLabels"));
    assertThat(map(at(d, "spec.template.metadata.labels"))).containsAllEntriesOf(map(at(svc, "spec.selector")));
    assertThat(list(at(svc, "spec.ports"))).extracting(p -> map(p).get("targetPort"))
        .containsExactly("http", "management");
    assertThat(at(r.one("PodDisruptionBudget"), "spec")).isEqualTo(Map.of("maxUnavailable", 1,
        "selector", Map.of("matchLabels", at(d, "spec.selector.matchLabels"))));
    assertThat(c).doesNotContainKey("envFrom");
    assertThat(list(c.get("env"))).extracting(e -> map(e).get("name")).containsExactly("JAVA_TOOL_OPTIONS", "DJL_CACHE_DIR",
        "DJL_OFFLINE");
    assertThat(at(c, "securityContext.readOnlyRootFilesystem")).isEqualTo(true);
    assertThat(list(c.get("volumeMounts"))).extracting(m -> map(m).get("mountPath")).contains("/tmp", "/config");
  }

  /** preStop sleeps, then Tomcat's graceful phase and the engine's drain each take up to the timeout. */
  private static void assertDrain(Map<String, Object> d, Map<String, Object> app, int preStop, int timeout) {
    assertThat(at(d, "spec.template.spec.containers.0.lifecycle.preStop.sleep.seconds")).isEqualTo(preStop);
    assertThat(at(app, "autoglm.shutdown-timeout")).isEqualTo(timeout + "s");
    assertThat(at(app, "spring.lifecycle.timeout-per-shutdown-phase")).isEqualTo(timeout + "s");
    int grace = (Integer) at(d, "spec.template.spec.terminationGracePeriodSeconds");
    assertThat(grace).isGreaterThan(preStop + 2 * timeout);
  }

  private static Object port(Map<String, Object> container, String name) {
    return list(container.get("ports")).stream().map(HelmChart::map).filter(p -> name.equals(p.get("name")))
        .findFirst().orElseThrow().get("containerPort");
  }

  @Test
  void everyOptionOnRendersRoutesMonitoringSecretsAndKeda() {
    HelmChart.Rendered r = HelmChart.template("glm", "serving", full());
    assertThat(r.kinds()).containsExactlyInAnyOrder("ConfigMap", "Secret", "Service", "Deployment",
        "PodDisruptionBudget", "Ingress", "HTTPRoute", "ServiceMonitor", "ScaledObject");
    Map<String, Object> d = r.one("Deployment");
    assertThat(map(d.get("spec"))).doesNotContainKey("replicas"); // the autoscaler owns it
    Map<String, Object> app = HelmChart.applicationYaml(r);
    assertDrain(d, app, 10, 120);
    assertThat(at(app, "autoglm.kv-blocks")).isEqualTo(4096);
    assertThat(at(app, "autoglm.rate-limit")).isEqualTo(Map.of("requests-per-minute", 600,
        "tokens-per-minute", 200000));
    assertThat(at(app, "autoglm.cache.enabled")).isEqualTo(true);
    assertThat(at(app, "autoglm.server.request-timeout")).isEqualTo("5m");
    assertThat(at(app, "spring.data.redis.host")).isEqualTo("redis-master");
    assertThat(at(app, "spring.lifecycle.timeout-per-shutdown-phase")).isEqualTo("120s"); // merged, not replaced
    // the env reads the chart's Secret, under the keys it wrote
    Map<String, Object> secret = r.one("Secret");
    assertThat(at(secret, "stringData")).isEqualTo(Map.of("api-keys", "key-a,key-b", "redis-password", "s3cret"));
    assertThat(env(d, "AUTOGLM_APIKEYS")).isEqualTo(Map.of("name", at(secret, "metadata.name"), "key", "api-keys"));
    assertThat(env(d, "SPRING_DATA_REDIS_PASSWORD")).isEqualTo(Map.of("name", at(secret, "metadata.name"),
        "key", "redis-password"));
    String svc = (String) at(r.one("Service"), "metadata.name");
    assertThat(at(r.one("Ingress"), "spec.rules.0.http.paths.0.backend.service")).isEqualTo(Map.of("name", svc,
        "port", Map.of("name", "http")));
    assertThat(at(r.one("HTTPRoute"), "spec.rules.0.backendRefs.0")).isEqualTo(Map.of("name", svc, "port", 80));
    assertThat(at(r.one("ServiceMonitor"), "spec.endpoints.0")).isEqualTo(Map.of("port", "management",
        "path", "/actuator/prometheus", "interval", "15s"));
    List<Object> triggers = list(at(r.one("ScaledObject"), "spec.triggers"));
    assertThat(triggers).extracting(t -> at(t, "metadata.query")).containsExactly(
        "sum(autoglm_requests_waiting{namespace=\"serving\", service=\"glm-autoglm\"})",
        "avg(autoglm_kv_cache_usage{namespace=\"serving\", service=\"glm-autoglm\"})");
    assertThat(at(r.one("ScaledObject"), "spec.scaleTargetRef.name")).isEqualTo(at(d, "metadata.name"));
  }

  private static Object env(Map<String, Object> deployment, String name) {
    return list(at(deployment, "spec.template.spec.containers.0.env")).stream().map(HelmChart::map)
        .filter(e -> name.equals(e.get("name"))).findFirst()
        .map(e -> at(e, "valueFrom.secretKeyRef")).orElseThrow(() -> new AssertionError("no env " + name));
  }

  @Test
  void hpaModeScalesOnTheAdaptersPodsMetricsAndReadsExistingSecrets() {
    HelmChart.Rendered r = HelmChart.template("glm", "serving", hpa());
    assertThat(r.kinds()).contains("HorizontalPodAutoscaler").doesNotContain("ScaledObject", "Secret");
    Map<String, Object> hpa = r.one("HorizontalPodAutoscaler");
    assertThat(list(at(hpa, "spec.metrics"))).extracting(m -> at(m, "pods.metric.name"), m -> at(m, "pods.target"))
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("autoglm_requests_waiting",
                Map.of("type", "AverageValue", "averageValue", "4")),
            org.assertj.core.groups.Tuple.tuple("autoglm_kv_cache_usage",
                Map.of("type", "AverageValue", "averageValue", "800m")));
    Map<String, Object> d = r.one("Deployment");
    assertThat(env(d, "AUTOGLM_APIKEYS")).isEqualTo(Map.of("name", "my-keys", "key", "api-keys"));
    assertThat(env(d, "SPRING_DATA_REDIS_PASSWORD")).isEqualTo(Map.of("name", "my-redis", "key", "redis-password"));
    assertThat(at(r.one("PodDisruptionBudget"), "spec.minAvailable")).isEqualTo(1);
  }

  @Test
  void badValuesAreRefusedByTheSchema() {
    assertRefused(sets("engine.backend", "rocm"), "/engine/backend");
    assertRefused(sets("management.port", "8080"), "/management/port"); // the API port
    assertRefused(sets("autoscaling.mode", "vpa"), "/autoscaling/mode");
    assertRefused(sets("rateLimit.requestsPerMinut", "5"), "requestsPerMinut");
    assertRefused(sets("autoscaling.targetKvCacheUsage", "1.5"), "/autoscaling/targetKvCacheUsage");
    assertRefused(sets("engine.kvBlocks", "0"), "/engine/kvBlocks");
  }

  private static void assertRefused(Map<String, Object> sets, String mention) {
    assertThatThrownBy(() -> HelmChart.template("glm", "serving", sets)).as(sets.toString())
        .hasMessageContaining("values don't meet the specifications of the schema").hasMessageContaining(mention);
  }

  @Test
  void everyRenderedDocumentPassesTheKubernetesSchemas() throws IOException, InterruptedException {
    Path check = SampleApp.repoRoot().resolve("deploy/check");
    boolean installed = Files.isDirectory(check.resolve("node_modules/kubernetes-models"));
    if (!installed && System.getenv("CI") != null) {
      throw new AssertionError("deploy/check/node_modules is missing: .ci/run installs it (npm ci --prefix "
          + check + ")");
    }
    Assumptions.assumeTrue(installed, "schemas not installed: npm ci --prefix deploy/check (docs/deploy.md)");
    Files.createDirectories(OUT);
    List<String> cmd = new ArrayList<>(List.of("node", check.resolve("validate.mjs").toString()));
    Map<String, Map<String, Object>> scenarios = Map.of("defaults", Map.of(), "full", full(), "hpa", hpa());
    for (Map.Entry<String, Map<String, Object>> s : scenarios.entrySet()) {
      Path file = OUT.resolve(s.getKey() + ".yaml");
      Files.writeString(file, HelmChart.template("glm", "serving", s.getValue()).text(), StandardCharsets.UTF_8);
      cmd.add(file.toString());
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
    System.out.println(out);
    assertThat(p.exitValue()).as(out).isZero();
    // 4 (defaults) + 9 (full) + 5 (hpa) documents
    assertThat(out).contains("schema check: 18 documents valid, 0 invalid");

    // and the check does refuse what the API server would: a port given as a number string
    Path bad = OUT.resolve("bad.yaml");
    Files.writeString(bad, HelmChart.template("glm", "serving", Map.of()).text()
        .replace("port: 80\n", "port: \"80\"\n"), StandardCharsets.UTF_8);
    Process q = new ProcessBuilder("node", check.resolve("validate.mjs").toString(), bad.toString())
        .redirectErrorStream(true).start();
    String badOut = new String(q.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(q.waitFor(2, TimeUnit.MINUTES)).isTrue();
    assertThat(q.exitValue()).as(badOut).isEqualTo(1);
    assertThat(badOut).contains("Service glm-autoglm (v1): data/spec/ports/0/port must be integer");
  }
}

package io.autoglm.examples.cli.serve;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a run measured, as vLLM's benchmark_serving defines it: TTFT from send to the first content chunk, ITL the
 * gaps between content chunks, TPOT a request's (e2e - TTFT) over its output tokens after the first, e2e from send
 * to the stream's end; latencies of successful requests only. Percentiles interpolate linearly between the closest
 * ranks (numpy's default). Throughputs divide by the run's duration, first send to last end.
 */
public final class ServeReport {
  private static final Pattern STAT = Pattern.compile("(ttft|itl|tpot|e2e)_(mean|max|p([0-9.]+))");

  private final List<RequestOutcome> outcomes;
  private final double durationSeconds;
  private final Map<String, double[]> sortedMillis = new TreeMap<>();
  private final Map<String, Integer> errors = new TreeMap<>();
  private final List<String> errorSamples = new ArrayList<>();
  private final int completed;
  private final long inputTokens;
  private final long outputTokens;

  public ServeReport(List<RequestOutcome> outcomes, long durationNanos) {
    this.outcomes = List.copyOf(outcomes);
    this.durationSeconds = durationNanos / 1e9;
    List<Double> ttft = new ArrayList<>();
    List<Double> itl = new ArrayList<>();
    List<Double> tpot = new ArrayList<>();
    List<Double> e2e = new ArrayList<>();
    int ok = 0;
    long in = 0;
    long out = 0;
    for (RequestOutcome o : outcomes) {
      if (!o.ok()) {
        errors.merge(o.error(), 1, Integer::sum);
        if (errorSamples.size() < 5) {
          errorSamples.add(o.error() + ": " + o.detail());
        }
        continue;
      }
      ok++;
      in += Math.max(0, o.promptTokens());
      out += o.outputTokens();
      e2e.add(o.e2eNanos() / 1e6);
      if (o.ttftNanos() >= 0) {
        ttft.add(o.ttftNanos() / 1e6);
        if (o.outputTokens() >= 2) {
          tpot.add((o.e2eNanos() - o.ttftNanos()) / 1e6 / (o.outputTokens() - 1));
        }
      }
      for (long gap : o.itlNanos()) {
        itl.add(gap / 1e6);
      }
    }
    this.completed = ok;
    this.inputTokens = in;
    this.outputTokens = out;
    sortedMillis.put("ttft", sorted(ttft));
    sortedMillis.put("itl", sorted(itl));
    sortedMillis.put("tpot", sorted(tpot));
    sortedMillis.put("e2e", sorted(e2e));
  }

  private static double[] sorted(List<Double> values) {
    double[] a = values.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a;
  }

  /** The {@code p}-th percentile of sorted {@code a}, linearly interpolated; NaN when empty. */
  public static double percentile(double[] a, double p) {
    if (a.length == 0) {
      return Double.NaN;
    }
    double rank = p / 100 * (a.length - 1);
    int lo = (int) Math.floor(rank);
    int hi = (int) Math.ceil(rank);
    return a[lo] + (a[hi] - a[lo]) * (rank - lo);
  }

  public int requests() {
    return outcomes.size();
  }

  public int completed() {
    return completed;
  }

  public int failed() {
    return outcomes.size() - completed;
  }

  public Map<String, Integer> errors() {
    return errors;
  }

  /**
   * A metric by its SLA name ({@code ttft_p99}, {@code error_rate}, ...), latencies in milliseconds.
   *
   * @throws IllegalArgumentException for a name {@link Sla} does not accept
   */
  public double metric(String name) {
    Matcher m = STAT.matcher(name);
    if (m.matches()) {
      double[] a = sortedMillis.get(m.group(1));
      return switch (m.group(2)) {
        case "mean" -> a.length == 0 ? Double.NaN : Arrays.stream(a).average().orElseThrow();
        case "max" -> a.length == 0 ? Double.NaN : a[a.length - 1];
        default -> percentile(a, Double.parseDouble(m.group(3)));
      };
    }
    return switch (name) {
      case "error_rate" -> outcomes.isEmpty() ? Double.NaN : (double) failed() / outcomes.size();
      case "request_throughput" -> completed / durationSeconds;
      case "output_throughput" -> outputTokens / durationSeconds;
      case "total_token_throughput" -> (inputTokens + outputTokens) / durationSeconds;
      default -> throw new IllegalArgumentException("unknown metric '" + name + "'");
    };
  }

  /** The machine-readable report; {@code perRequest} adds every request's times and counts. */
  public JsonObject toJson(JsonObject config, List<Sla.Verdict> verdicts, boolean perRequest) {
    JsonObject j = new JsonObject();
    j.add("config", config);
    j.addProperty("requests", requests());
    j.addProperty("completed", completed);
    j.addProperty("failed", failed());
    j.addProperty("error_rate", metric("error_rate"));
    j.addProperty("duration_s", durationSeconds);
    j.addProperty("total_input_tokens", inputTokens);
    j.addProperty("total_output_tokens", outputTokens);
    for (String rate : List.of("request_throughput", "output_throughput", "total_token_throughput")) {
      j.addProperty(rate, metric(rate));
    }
    for (String family : sortedMillis.keySet()) {
      JsonObject stats = new JsonObject();
      stats.addProperty("count", sortedMillis.get(family).length);
      for (String stat : List.of("mean", "p50", "p90", "p99", "max")) {
        double v = metric(family + "_" + stat);
        stats.addProperty(stat, Double.isNaN(v) ? null : v);
      }
      j.add(family + "_ms", stats);
    }
    JsonObject errorCounts = new JsonObject();
    errors.forEach(errorCounts::addProperty);
    j.add("errors", errorCounts);
    JsonArray samples = new JsonArray();
    errorSamples.forEach(samples::add);
    j.add("error_samples", samples);
    if (verdicts != null) {
      j.add("sla", slaJson(verdicts));
      j.addProperty("sla_passed", verdicts.stream().allMatch(Sla.Verdict::passed));
    }
    if (perRequest) {
      j.add("per_request", perRequestJson());
    }
    return j;
  }

  private static JsonArray slaJson(List<Sla.Verdict> verdicts) {
    JsonArray a = new JsonArray();
    for (Sla.Verdict v : verdicts) {
      JsonObject o = new JsonObject();
      o.addProperty("clause", v.clause().text());
      o.addProperty("metric", v.clause().metric());
      o.addProperty("op", v.clause().op());
      o.addProperty("limit", v.clause().limit());
      o.addProperty("value", Double.isNaN(v.value()) ? null : v.value());
      o.addProperty("passed", v.passed());
      a.add(o);
    }
    return a;
  }

  private JsonArray perRequestJson() {
    JsonArray a = new JsonArray();
    for (RequestOutcome o : outcomes) {
      JsonObject r = new JsonObject();
      r.addProperty("sent_ms", o.sentNanos() / 1e6);
      r.addProperty("ttft_ms", o.ttftNanos() < 0 ? null : o.ttftNanos() / 1e6);
      r.addProperty("e2e_ms", o.e2eNanos() / 1e6);
      r.addProperty("prompt_tokens", o.promptTokens());
      r.addProperty("output_tokens", o.outputTokens());
      JsonArray itl = new JsonArray();
      Arrays.stream(o.itlNanos()).forEach(g -> itl.add(g / 1e6));
      r.add("itl_ms", itl);
      r.addProperty("error", o.error());
      a.add(r);
    }
    return a;
  }

  /** A summary in vLLM's layout. */
  public String toText(List<Sla.Verdict> verdicts) {
    StringBuilder b = new StringBuilder();
    b.append("============ Serving Benchmark Result ============\n");
    row(b, "Successful requests:", completed);
    row(b, "Failed requests:", failed());
    row(b, "Error rate:", String.format(Locale.ROOT, "%.4f", metric("error_rate")));
    row(b, "Benchmark duration (s):", String.format(Locale.ROOT, "%.2f", durationSeconds));
    row(b, "Total input tokens:", inputTokens);
    row(b, "Total generated tokens:", outputTokens);
    row(b, "Request throughput (req/s):", String.format(Locale.ROOT, "%.2f", metric("request_throughput")));
    row(b, "Output token throughput (tok/s):", String.format(Locale.ROOT, "%.2f", metric("output_throughput")));
    row(b, "Total token throughput (tok/s):", String.format(Locale.ROOT, "%.2f", metric("total_token_throughput")));
    String[][] families = {{"ttft", "Time to First Token"}, {"tpot", "Time per Output Token (excl. 1st token)"},
        {"itl", "Inter-token Latency"}, {"e2e", "End-to-end Latency"}};
    for (String[] f : families) {
      b.append(String.format(Locale.ROOT, "%s%n", center(f[1])));
      for (String stat : List.of("mean", "p50", "p90", "p99")) {
        row(b, String.format(Locale.ROOT, "%s %s (ms):", stat.equals("mean") ? "Mean" : "P" + stat.substring(1),
            f[0].toUpperCase(Locale.ROOT)), String.format(Locale.ROOT, "%.2f", metric(f[0] + "_" + stat)));
      }
    }
    if (!errors.isEmpty()) {
      b.append(center("Errors")).append('\n');
      errors.forEach((k, v) -> row(b, k + ":", v));
      errorSamples.forEach(s -> b.append("  ").append(s).append('\n'));
    }
    if (verdicts != null) {
      b.append(center("SLA")).append('\n');
      for (Sla.Verdict v : verdicts) {
        row(b, v.clause().text(), String.format(Locale.ROOT, "%s (%.4g)", v.passed() ? "PASS" : "FAIL", v.value()));
      }
    }
    return b.append("==================================================").toString();
  }

  private static void row(StringBuilder b, String name, Object value) {
    b.append(String.format(Locale.ROOT, "%-40s%10s%n", name, value));
  }

  private static String center(String title) {
    int pad = Math.max(0, 50 - title.length() - 2);
    return "-".repeat(pad / 2) + " " + title + " " + "-".repeat(pad - pad / 2);
  }
}

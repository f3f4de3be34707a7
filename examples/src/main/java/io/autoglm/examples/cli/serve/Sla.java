package io.autoglm.examples.cli.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Service-level objectives given on the command line, e.g. {@code ttft_p99<=500ms,error_rate<=0.01}: a comma list
 * of {@code METRIC OP VALUE}. Latency metrics are {@code ttft}, {@code itl}, {@code tpot} and {@code e2e} with a
 * statistic {@code _mean}, {@code _max} or {@code _pNN} (any percentile, e.g. {@code _p95}, {@code _p99.9}); their
 * value takes a unit {@code us}, {@code ms} (the default) or {@code s}. Rate metrics: {@code error_rate} (a fraction,
 * or a percentage with {@code %}), {@code request_throughput} (requests/s), {@code output_throughput} and
 * {@code total_token_throughput} (tokens/s). Operators: {@code <=}, {@code <}, {@code >=}, {@code >}.
 */
public record Sla(List<Clause> clauses) {
  private static final Pattern CLAUSE = Pattern.compile("\\s*([a-z_0-9.]+)\\s*(<=|>=|<|>)\\s*([0-9.eE+-]+)\\s*([a-z%]*)\\s*");
  private static final Pattern LATENCY = Pattern.compile("(ttft|itl|tpot|e2e)_(mean|max|p([0-9]+(?:\\.[0-9]+)?))");
  private static final List<String> RATES = List.of("error_rate", "request_throughput", "output_throughput",
      "total_token_throughput");

  /** One objective; {@code limit} is in milliseconds for latencies, in the metric's own unit otherwise. */
  public record Clause(String text, String metric, String op, double limit) {
    boolean holds(double value) {
      if (Double.isNaN(value)) {
        return false; // no samples: an objective on them cannot be shown to hold
      }
      return switch (op) {
        case "<=" -> value <= limit;
        case "<" -> value < limit;
        case ">=" -> value >= limit;
        default -> value > limit;
      };
    }
  }

  /** What one clause measured. */
  public record Verdict(Clause clause, double value, boolean passed) {}

  public Sla {
    clauses = List.copyOf(clauses);
  }

  /**
   * Parses {@code spec}.
   *
   * @throws IllegalArgumentException naming the bad clause and the expected form
   */
  public static Sla parse(String spec) {
    List<Clause> clauses = new ArrayList<>();
    for (String text : spec.split(",")) {
      if (text.isBlank()) {
        continue;
      }
      Matcher m = CLAUSE.matcher(text.toLowerCase(Locale.ROOT));
      if (!m.matches()) {
        throw new IllegalArgumentException("--sla clause '" + text.trim() + "': expected METRIC<=VALUE (or <, >=, >),"
            + " e.g. ttft_p99<=500ms or error_rate<=0.01");
      }
      clauses.add(clause(text.trim(), m.group(1), m.group(2), m.group(3), m.group(4)));
    }
    if (clauses.isEmpty()) {
      throw new IllegalArgumentException("--sla '" + spec + "': no clause; expected e.g. ttft_p99<=500ms,error_rate<=0.01");
    }
    return new Sla(clauses);
  }

  private static Clause clause(String text, String metric, String op, String number, String unit) {
    double value;
    try {
      value = Double.parseDouble(number);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--sla clause '" + text + "': '" + number + "' is not a number");
    }
    if (LATENCY.matcher(metric).matches()) {
      Matcher lm = LATENCY.matcher(metric);
      lm.matches();
      if (lm.group(3) != null && !(Double.parseDouble(lm.group(3)) <= 100)) {
        throw new IllegalArgumentException("--sla clause '" + text + "': percentile " + lm.group(3)
            + " is over 100");
      }
      double factor = switch (unit) {
        case "", "ms" -> 1;
        case "us" -> 1e-3;
        case "s" -> 1e3;
        default -> throw new IllegalArgumentException("--sla clause '" + text + "': unit '" + unit
            + "' for a latency; expected us, ms or s");
      };
      return new Clause(text, metric, op, value * factor);
    }
    if (!RATES.contains(metric)) {
      throw new IllegalArgumentException("--sla clause '" + text + "': unknown metric '" + metric + "'; expected"
          + " ttft|itl|tpot|e2e with _mean, _max or _pNN, or one of " + RATES);
    }
    if (unit.equals("%") && metric.equals("error_rate")) {
      return new Clause(text, metric, op, value / 100);
    }
    if (!unit.isEmpty()) {
      throw new IllegalArgumentException("--sla clause '" + text + "': unit '" + unit + "' for " + metric
          + "; expected none" + (metric.equals("error_rate") ? " or %" : ""));
    }
    return new Clause(text, metric, op, value);
  }

  /** Each clause against {@code report}. */
  public List<Verdict> evaluate(ServeReport report) {
    List<Verdict> verdicts = new ArrayList<>();
    for (Clause c : clauses) {
      double value = report.metric(c.metric());
      verdicts.add(new Verdict(c, value, c.holds(value)));
    }
    return verdicts;
  }
}

package io.autoglm.cuda;

import java.util.LinkedHashMap;
import java.util.Map;

/** Accumulated per-op GPU milliseconds of profiled steps, by op label (a diagnostic: {@link CudaDiagnostics}). */
final class CudaProfile {
  private final Map<String, double[]> ops = new LinkedHashMap<>(); // label -> {count, ms}
  private int steps;

  void add(String label, double ms) {
    double[] a = ops.computeIfAbsent(label, k -> new double[2]);
    a[0]++;
    a[1] += ms;
  }

  void stepDone() {
    steps++;
  }

  /** GPU milliseconds per step of each op label, in first-seen order. */
  Map<String, Double> msPerStep() {
    Map<String, Double> out = new LinkedHashMap<>();
    ops.forEach((label, a) -> out.put(label, a[1] / Math.max(steps, 1)));
    return out;
  }

  /** A table of ops by GPU time per step, largest first. */
  String table() {
    StringBuilder b = new StringBuilder();
    double total = ops.values().stream().mapToDouble(a -> a[1]).sum() / Math.max(steps, 1);
    b.append(String.format("%-44s %8s %10s %10s %6s%n", "op", "per step", "ms/step", "us/op", "share"));
    ops.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[1], x.getValue()[1])).forEach(e -> {
      double per = e.getValue()[1] / Math.max(steps, 1);
      b.append(String.format("%-44s %8.0f %10.3f %10.2f %5.1f%%%n", e.getKey(), e.getValue()[0] / Math.max(steps, 1),
          per, e.getValue()[1] / e.getValue()[0] * 1e3, per / total * 100));
    });
    b.append(String.format("%-44s %8s %10.3f%n", "sum of ops (GPU time, no launch gaps)", "", total));
    return b.toString();
  }
}

package io.autoglm.sample;

import io.autoglm.backend.SamplingRow;

/**
 * Host-side token selection: argmax, or temperature → top-k → top-p → inverse-CDF draw. The uniform draw is
 * SplitMix64 of (seed, step), so the same seed always picks the same tokens and no sampler state is kept.
 */
public final class Sampler {
  private Sampler() {}

  public static int sample(float[] row, SamplingRow params) {
    float[] logits = params.sampleableColumns(row.length) == row.length ? row
        : java.util.Arrays.copyOf(row, params.sampleableColumns(row.length));
    return sampleAll(logits, params);
  }

  private static int sampleAll(float[] logits, SamplingRow row) {
    if (row.greedy()) {
      return argmax(logits);
    }
    int n = logits.length;
    int keep = n;
    if (row.topK() > 0 && row.topK() < n) {
      keep = row.topK();
    }
    double inv = 1.0 / row.temperature();
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) {
      max = Math.max(max, v);
    }
    int[] order = descending(logits, keep);
    double[] probs = new double[keep];
    double sum = 0;
    for (int i = 0; i < keep; i++) {
      probs[i] = Math.exp((logits[order[i]] - max) * inv);
      sum += probs[i];
    }
    if (row.topP() < 1) {
      double cum = 0;
      int cut = keep;
      for (int i = 0; i < keep; i++) {
        cum += probs[i] / sum;
        if (cum >= row.topP()) {
          cut = i + 1;
          break;
        }
      }
      keep = cut;
      sum = 0;
      for (int i = 0; i < keep; i++) {
        sum += probs[i];
      }
    }
    double u = uniform(row.seed(), row.step()) * sum;
    double acc = 0;
    for (int i = 0; i < keep; i++) {
      acc += probs[i];
      if (u < acc) {
        return order[i];
      }
    }
    return order[keep - 1];
  }

  /**
   * The {@code keep} highest logits' ids, highest first, ties to the lower id. Sorts (logit, id) pairs packed into
   * longs (order-preserving float bits in the high half), which avoids boxing a vocabulary of Integers per token.
   */
  static int[] descending(float[] logits, int keep) {
    long[] packed = new long[logits.length];
    for (int i = 0; i < logits.length; i++) {
      int bits = Float.floatToIntBits(-logits[i]);
      int sortable = bits ^ ((bits >> 31) & 0x7fffffff);
      packed[i] = ((long) sortable << 32) | i;
    }
    java.util.Arrays.sort(packed);
    int[] order = new int[keep];
    for (int i = 0; i < keep; i++) {
      order[i] = (int) packed[i];
    }
    return order;
  }

  public static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  /** A uniform double in [0, 1) from (seed, step): two rounds of SplitMix64. */
  public static double uniform(long seed, int step) {
    long z = mix(seed + 0x9E3779B97F4A7C15L * (step + 1L));
    return (mix(z) >>> 11) * 0x1.0p-53;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

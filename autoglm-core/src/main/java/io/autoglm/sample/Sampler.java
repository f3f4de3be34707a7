package io.autoglm.sample;

import io.autoglm.backend.SamplingRow;

/**
 * Host-side token selection: argmax (ties to the lower id), or temperature → top-k → top-p → inverse-CDF draw, by
 * the same rule as the CUDA backend's sampling kernel. The uniform draw is SplitMix64 of (seed, step), so the same
 * seed always picks the same tokens and no sampler state is kept.
 */
public final class Sampler {
  private Sampler() {}

  /** One token per row of host logits (rows, vocab), each row by its own settings. */
  public static int[] sampleRows(float[][] host, java.util.List<SamplingRow> rows) {
    if (host.length != rows.size()) {
      throw new IllegalArgumentException("logits have " + host.length + " rows, sampling rows " + rows.size());
    }
    int[] out = new int[host.length];
    for (int i = 0; i < host.length; i++) {
      out[i] = sample(host[i], rows.get(i));
    }
    return out;
  }

  public static int sample(float[] row, SamplingRow params) {
    int columns = params.sampleableColumns(row.length);
    if (params.adjustsLogits()) {
      float[] adjusted = LogitProcessing.adjusted(row, columns, params);
      int pick = sampleAll(adjusted, params);
      if (adjusted[pick] == Float.NEGATIVE_INFINITY) {
        throw new IllegalStateException("the grammar's mask allows no id below " + columns);
      }
      return pick;
    }
    if (params.constrained()) {
      return sampleAllowed(row, columns, params.allowedTokens().get(), params);
    }
    float[] logits = columns == row.length ? row : java.util.Arrays.copyOf(row, columns);
    return sampleAll(logits, params);
  }

  /**
   * Samples among the ids the mask allows only, as if every other logit were -inf: the allowed logits are gathered
   * in id order (so ties still go to the lower id) and sampled as one shorter row, which also spares sorting the
   * whole vocabulary when a grammar allows a few ids.
   */
  private static int sampleAllowed(float[] row, int columns, long[] mask, SamplingRow params) {
    int[] ids = new int[Math.min(columns, mask.length * 64)];
    int n = 0;
    for (int w = 0; w < mask.length; w++) {
      for (long bits = mask[w]; bits != 0; bits &= bits - 1) {
        int id = w * 64 + Long.numberOfTrailingZeros(bits);
        if (id < columns) {
          ids[n++] = id;
        }
      }
    }
    if (n == 0) {
      throw new IllegalStateException("the grammar's mask allows no id below " + columns);
    }
    float[] logits = new float[n];
    for (int i = 0; i < n; i++) {
      logits[i] = row[ids[i]];
    }
    return ids[sampleAll(logits, params)];
  }

  /**
   * The CUDA kernel's rule, on the host: keep the ids whose logit is at least the k-th largest (top-k, ties kept),
   * then the fewest highest ones whose softmax mass reaches topP (all ids tied at the cut kept), and draw by inverse
   * CDF over the kept ids in id order. Each cut is a binary search over order-preserving float keys, so no row is
   * sorted: O(32 · vocab) adds instead of an O(vocab · log vocab) sort of a 151k-id row.
   */
  private static int sampleAll(float[] logits, SamplingRow row) {
    if (row.greedy()) {
      return argmax(logits);
    }
    int n = logits.length;
    int[] keys = new int[n]; // floatKey as unsigned ints: compare with Integer.compareUnsigned
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      keys[i] = floatKey(logits[i]);
      max = Math.max(max, logits[i]);
    }
    double inv = 1.0 / row.temperature();
    double[] weight = new double[n];
    for (int i = 0; i < n; i++) {
      weight[i] = Math.exp((logits[i] - max) * inv);
    }
    int cut = 0; // keep ids whose key >= cut (unsigned)
    if (row.topK() > 0 && row.topK() < n) {
      cut = highestCut(keys, weight, 0, floatKey(max), row.topK(), true);
    }
    double z = mass(keys, weight, cut);
    if (row.topP() < 1) {
      cut = highestCut(keys, weight, cut, floatKey(max), row.topP() * z, false);
      z = mass(keys, weight, cut);
    }
    double u = uniform(row.seed(), row.step()) * z;
    double acc = 0;
    for (int i = 0; i < n; i++) {
      if (Integer.compareUnsigned(keys[i], cut) >= 0) {
        acc += weight[i];
        if (u < acc) {
          return i;
        }
      }
    }
    return argmax(logits); // rounding left u past the last kept id
  }

  /**
   * The largest key {@code c} in [lo, hi] such that the ids with key >= c number at least {@code need} (by count)
   * or hold at least {@code need} of the weight (by mass); {@code lo} must satisfy it.
   */
  private static int highestCut(int[] keys, double[] weight, int lo, int hi, double need, boolean byCount) {
    while (Integer.compareUnsigned(lo, hi) < 0) {
      int mid = (int) (Integer.toUnsignedLong(lo) + ((Integer.toUnsignedLong(hi) - Integer.toUnsignedLong(lo) + 1)
          >>> 1));
      double have = 0;
      for (int i = 0; i < keys.length; i++) {
        if (Integer.compareUnsigned(keys[i], mid) >= 0) {
          have += byCount ? 1 : weight[i];
        }
      }
      if (have >= need) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  private static double mass(int[] keys, double[] weight, int cut) {
    double z = 0;
    for (int i = 0; i < keys.length; i++) {
      if (Integer.compareUnsigned(keys[i], cut) >= 0) {
        z += weight[i];
      }
    }
    return z;
  }

  /** Order-preserving map of a float to an unsigned int key (a larger float has a larger key), as the kernel's. */
  static int floatKey(float f) {
    int b = Float.floatToRawIntBits(f);
    return b < 0 ? ~b : b | 0x80000000;
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

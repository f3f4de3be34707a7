package io.autoglm.sample;

import io.autoglm.GenerationResult;
import io.autoglm.backend.RowProcessing;
import io.autoglm.backend.SamplingRow;
import java.util.ArrayList;
import java.util.List;

/**
 * The host's logit processing, in vLLM's order: a grammar's mask (disallowed ids become -inf), logit bias, the
 * repetition penalty (transformers' rule over the prompt and output ids: a positive logit divided by it, a negative
 * one multiplied), the frequency and presence penalties (OpenAI's: {@code logit -= count × frequency + (count > 0)
 * × presence} over the output ids), then, for sampled rows, min-p ({@code logit < max + T · ln(minP)} becomes
 * -inf, which is {@code p < minP · p_max} after temperature T). The CUDA backend's kernel applies the same rule.
 */
public final class LogitProcessing {
  private LogitProcessing() {}

  /** The first {@code columns} logits of a row after the mask, bias, penalties and min-p; a new array. */
  public static float[] adjusted(float[] row, int columns, SamplingRow params) {
    float[] x = java.util.Arrays.copyOf(row, columns);
    params.allowedTokens().ifPresent(mask -> applyMask(x, mask));
    RowProcessing p = params.processing().orElse(null);
    if (p == null) {
      return x;
    }
    for (int i = 0; i < p.biasIds().length; i++) {
      int id = p.biasIds()[i];
      if (id < columns) {
        x[id] += p.biasValues()[i];
      }
    }
    if (p.penalizes()) {
      applyPenalties(x, p);
    }
    if (p.minP() > 0 && !params.greedy()) {
      applyMinP(x, params.temperature(), p.minP());
    }
    return x;
  }

  private static void applyMask(float[] x, long[] mask) {
    for (int id = 0; id < x.length; id++) {
      int w = id >>> 6;
      if (w >= mask.length || (mask[w] & (1L << (id & 63))) == 0) {
        x[id] = Float.NEGATIVE_INFINITY;
      }
    }
  }

  private static void applyPenalties(float[] x, RowProcessing p) {
    TokenCounts h = p.history();
    for (int e = 0; e < h.size(); e++) {
      int id = h.id(e);
      if (id >= x.length) {
        continue;
      }
      float v = x[id];
      if (p.repetitionPenalty() != 1) {
        v = v < 0 ? v * p.repetitionPenalty() : v / p.repetitionPenalty();
      }
      int c = h.generated(e);
      if (c > 0) {
        v -= c * p.frequencyPenalty() + p.presencePenalty();
      }
      x[id] = v;
    }
  }

  private static void applyMinP(float[] x, float temperature, float minP) {
    float max = Float.NEGATIVE_INFINITY;
    for (float v : x) {
      max = Math.max(max, v);
    }
    float floor = max + temperature * (float) Math.log(minP);
    for (int i = 0; i < x.length; i++) {
      if (x[i] < floor) {
        x[i] = Float.NEGATIVE_INFINITY;
      }
    }
  }

  /**
   * The logprobs of {@code token} and of the {@code top} most likely ids: log-softmax of the raw row's first
   * {@code columns} logits (temperature 1), the sum in double.
   */
  public static GenerationResult.TokenLogprobs logprobs(float[] row, int columns, int token, int top) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < columns; i++) {
      max = Math.max(max, row[i]);
    }
    double sum = 0;
    for (int i = 0; i < columns; i++) {
      sum += Math.exp((double) row[i] - max);
    }
    double lse = max + Math.log(sum);
    int[] best = topIds(row, columns, top);
    List<GenerationResult.TokenLogprobs.Candidate> candidates = new ArrayList<>(best.length);
    for (int id : best) {
      candidates.add(new GenerationResult.TokenLogprobs.Candidate(id, (float) (row[id] - lse)));
    }
    return new GenerationResult.TokenLogprobs(token, (float) (row[token] - lse), candidates);
  }

  /** The {@code n} ids of the largest logits, largest first, ties to the lower id: an insertion-sorted window. */
  static int[] topIds(float[] row, int columns, int n) {
    int[] ids = new int[Math.min(n, columns)];
    if (ids.length == 0) {
      return ids;
    }
    int have = 0;
    for (int i = 0; i < columns; i++) {
      float v = row[i];
      if (have == ids.length && !(v > row[ids[have - 1]])) {
        continue; // not above the smallest kept (a tie keeps the lower id, seen first)
      }
      int j = have == ids.length ? have - 1 : have++;
      while (j > 0 && v > row[ids[j - 1]]) {
        ids[j] = ids[j - 1];
        j--;
      }
      ids[j] = i;
    }
    return ids;
  }
}

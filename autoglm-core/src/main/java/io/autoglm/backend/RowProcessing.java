package io.autoglm.backend;

import io.autoglm.sample.TokenCounts;

/**
 * What a sampling row asks beyond temperature, top-k, top-p and a grammar's mask, applied in vLLM's order: logit
 * bias, then the repetition, frequency and presence penalties, then (sampled rows) temperature and min-p; and
 * whether the row reports logprobs.
 *
 * @param repetitionPenalty 1 = off; applies to every id in {@code history} (prompt or output)
 * @param biasIds ids whose logits get {@code biasValues} added (same length, distinct ids)
 * @param history the ids seen so far with their counts in the output; read during the step only (the engine
 *     thread updates it after sampling)
 * @param topLogprobs -1: no logprobs; else how many most likely ids to report with the chosen one's (0 to 20)
 */
public record RowProcessing(float presencePenalty, float frequencyPenalty, float repetitionPenalty, float minP,
    int[] biasIds, float[] biasValues, TokenCounts history, int topLogprobs) {
  public RowProcessing {
    if (biasIds.length != biasValues.length) {
      throw new IllegalArgumentException("biasIds (" + biasIds.length + ") and biasValues (" + biasValues.length
          + ") differ in length");
    }
    if (topLogprobs < -1 || topLogprobs > 20) {
      throw new IllegalArgumentException("topLogprobs (" + topLogprobs + ") must be -1 (off) or in [0, 20]");
    }
  }

  /** Whether any penalty is on (the history is then read). */
  public boolean penalizes() {
    return presencePenalty != 0 || frequencyPenalty != 0 || repetitionPenalty != 1;
  }

  /** Whether the logits change before sampling (penalties, bias, min-p). */
  public boolean adjustsLogits() {
    return penalizes() || biasIds.length > 0 || minP > 0;
  }

  public boolean wantsLogprobs() {
    return topLogprobs >= 0;
  }
}

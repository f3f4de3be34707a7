package io.autoglm.backend;

/**
 * How to pick the next token of one logits row. {@code temperature == 0} is argmax. The random draw of a sampled
 * row is a pure function of ({@code seed}, {@code step}), so a seeded request repeats exactly.
 *
 * @param topK 0 = off
 * @param topP 1 = off
 * @param step index of the token being generated (0 for the first)
 * @param vocabLimit only ids below it may be picked: the model's embedding often has more rows than the tokenizer
 *     has ids (GLM-4: 151,552 vs 151,343), and an id with no text must never be generated. Rows of one step share
 *     one limit. {@link Integer#MAX_VALUE}: the whole row.
 * @param allowedTokens when present, only the ids whose bit is set may be picked (bit {@code id & 63} of word
 *     {@code id >>> 6}; ids past the array are not allowed): a grammar's mask, applied before temperature, top-k
 *     and top-p. Rows of one step may mix constrained and free rows.
 * @param processing penalties, logit bias, min-p and logprobs of the row, when it asks for any
 */
public record SamplingRow(float temperature, int topK, float topP, long seed, int step, int vocabLimit,
    java.util.Optional<long[]> allowedTokens, java.util.Optional<RowProcessing> processing) {
  public SamplingRow {
    if (processing == null) {
      throw new IllegalArgumentException("processing must not be null; use Optional.empty()");
    }
    if (vocabLimit < 1) {
      throw new IllegalArgumentException("vocabLimit (" + vocabLimit + ") must be >= 1");
    }
    if (allowedTokens == null) {
      throw new IllegalArgumentException("allowedTokens must not be null; use Optional.empty()");
    }
  }

  /** A row without penalties, logit bias, min-p or logprobs. */
  public SamplingRow(float temperature, int topK, float topP, long seed, int step, int vocabLimit,
      java.util.Optional<long[]> allowedTokens) {
    this(temperature, topK, topP, seed, step, vocabLimit, allowedTokens, java.util.Optional.empty());
  }

  /** Whether the logits change before sampling: penalties, logit bias or min-p (the mask aside). */
  public boolean adjustsLogits() {
    return processing.map(RowProcessing::adjustsLogits).orElse(false);
  }

  /** Whether the row reports the chosen token's logprob and its top alternatives. */
  public boolean wantsLogprobs() {
    return processing.map(RowProcessing::wantsLogprobs).orElse(false);
  }

  /** A free row: any id below {@code vocabLimit}. */
  public SamplingRow(float temperature, int topK, float topP, long seed, int step, int vocabLimit) {
    this(temperature, topK, topP, seed, step, vocabLimit, java.util.Optional.empty());
  }

  /** Whether a grammar's mask constrains this row. */
  public boolean constrained() {
    return allowedTokens.isPresent();
  }

  /** A row that may pick any id of the logits. */
  public SamplingRow(float temperature, int topK, float topP, long seed, int step) {
    this(temperature, topK, topP, seed, step, Integer.MAX_VALUE);
  }

  public boolean greedy() {
    return temperature == 0;
  }

  /** How many leading columns of a logits row of {@code columns} may be picked. */
  public int sampleableColumns(int columns) {
    return Math.min(columns, vocabLimit);
  }
}

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
 */
public record SamplingRow(float temperature, int topK, float topP, long seed, int step, int vocabLimit) {
  public SamplingRow {
    if (vocabLimit < 1) {
      throw new IllegalArgumentException("vocabLimit (" + vocabLimit + ") must be >= 1");
    }
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

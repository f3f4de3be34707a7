package io.autoglm.backend;

/**
 * How to pick the next token of one logits row. {@code temperature == 0} is argmax. The random draw of a sampled
 * row is a pure function of ({@code seed}, {@code step}), so a seeded request repeats exactly.
 *
 * @param topK 0 = off
 * @param topP 1 = off
 * @param step index of the token being generated (0 for the first)
 */
public record SamplingRow(float temperature, int topK, float topP, long seed, int step) {
  public boolean greedy() {
    return temperature == 0;
  }
}

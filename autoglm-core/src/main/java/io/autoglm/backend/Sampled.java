package io.autoglm.backend;

import io.autoglm.GenerationResult;

/**
 * The picks of one step's sampling rows and, for the rows that asked, their logprobs.
 *
 * @param logprobs per row, its logprobs, or null for a row that did not ask
 */
public record Sampled(int[] tokens, GenerationResult.TokenLogprobs[] logprobs) {
  public Sampled {
    if (tokens.length != logprobs.length) {
      throw new IllegalArgumentException("tokens (" + tokens.length + ") and logprobs (" + logprobs.length
          + ") differ in length");
    }
  }

  /** Picks without logprobs. */
  public static Sampled of(int[] tokens) {
    return new Sampled(tokens, new GenerationResult.TokenLogprobs[tokens.length]);
  }
}

package io.autoglm;

import java.util.List;

/**
 * The log-probability of one generated token and of the most likely ids at its position: log-softmax of the
 * model's raw logits (temperature 1, before penalties, logit bias, a grammar's mask, top-k, top-p and min-p), over
 * the ids the tokenizer has text for. This is what vLLM returns by default ({@code raw_logprobs}); see
 * docs/sampling.md.
 *
 * @param tokenId the generated id
 * @param logprob its log-probability, &lt;= 0
 * @param top the {@code logprobs} most likely ids, most likely first (ties: lower id first); may or may not hold
 *     {@code tokenId}
 */
public record TokenLogprobs(int tokenId, float logprob, List<Candidate> top) {
  public TokenLogprobs {
    top = List.copyOf(top);
  }

  /** One of the most likely ids at a position and its log-probability. */
  public record Candidate(int tokenId, float logprob) {}
}

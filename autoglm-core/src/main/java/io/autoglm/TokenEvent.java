package io.autoglm;

import io.autoglm.toolcall.AnswerDelta;
import java.util.List;
import java.util.Optional;

/**
 * One generated token as it streams.
 *
 * @param index 0 for the first generated token
 * @param tokenId the generated id; -1 for a last event that only releases text held back at the end
 * @param text the new raw text this token completes (text requests; empty while a multi-byte character or a
 *     possible stop string is still pending, and for token-id requests)
 * @param deltas what this token completes of the parsed answer (content, reasoning, tool-call pieces) when the
 *     request asked for parsing; empty otherwise, and while a tag or a call is still open
 * @param logprobs the token's logprobs when the request asked ({@link SamplingParams#logprobs()}); empty otherwise
 *     and for a last event with no token
 */
public record TokenEvent(int index, int tokenId, String text, List<AnswerDelta> deltas,
    Optional<TokenLogprobs> logprobs) {
  public TokenEvent {
    deltas = List.copyOf(deltas);
    if (logprobs == null) {
      throw new IllegalArgumentException("logprobs must not be null; use Optional.empty()");
    }
  }

  /** An event without logprobs. */
  public TokenEvent(int index, int tokenId, String text, List<AnswerDelta> deltas) {
    this(index, tokenId, text, deltas, Optional.empty());
  }

  /** An event of a request whose answer is not parsed. */
  public TokenEvent(int index, int tokenId, String text) {
    this(index, tokenId, text, List.of());
  }
}

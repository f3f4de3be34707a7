package io.autoglm;

import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One generated token as it streams.
 *
 * @param index 0 for the first generated token
 * @param tokenId the generated id; empty for a last event that only releases text held back at the end
 * @param text the new raw text this token completes (text requests; empty while a multi-byte character or a
 *     possible stop string is still pending, and for token-id requests)
 * @param deltas what this token completes of the parsed answer (content, reasoning, tool-call pieces) when the
 *     request asked for parsing; empty otherwise, and while a tag or a call is still open
 * @param logprobs the token's logprobs when the request asked ({@link SamplingParams#logprobs()}); empty otherwise
 *     and for a last event with no token
 */
public record TokenEvent(int index, OptionalInt tokenId, String text, List<AnswerDelta> deltas,
    Optional<GenerationResult.TokenLogprobs> logprobs) {
  public TokenEvent {
    if (index < 0) {
      throw new IllegalArgumentException("index (" + index + ") must be >= 0");
    }
    if (tokenId == null) {
      throw new IllegalArgumentException("tokenId must not be null; use OptionalInt.empty() for a text-only event");
    }
    deltas = List.copyOf(deltas);
    if (logprobs == null) {
      throw new IllegalArgumentException("logprobs must not be null; use Optional.empty()");
    }
  }

  /** An event without logprobs. */
  public TokenEvent(int index, OptionalInt tokenId, String text, List<AnswerDelta> deltas) {
    this(index, tokenId, text, deltas, Optional.empty());
  }

  /** An event of a request whose answer is not parsed. */
  public TokenEvent(int index, int tokenId, String text) {
    this(index, OptionalInt.of(tokenId), text, List.of());
  }

  /** The event of a generated token. */
  public static TokenEvent of(int index, int tokenId, String text, List<AnswerDelta> deltas) {
    return new TokenEvent(index, OptionalInt.of(tokenId), text, deltas);
  }

  /** The event of a generated token with its logprobs (empty when the request did not ask). */
  public static TokenEvent of(int index, int tokenId, String text, List<AnswerDelta> deltas,
      Optional<GenerationResult.TokenLogprobs> logprobs) {
    return new TokenEvent(index, OptionalInt.of(tokenId), text, deltas, logprobs);
  }

  /** A last event with no token: text and answer pieces held back until the request ended. */
  public static TokenEvent textOnly(int index, String text, List<AnswerDelta> deltas) {
    return new TokenEvent(index, OptionalInt.empty(), text, deltas);
  }
}

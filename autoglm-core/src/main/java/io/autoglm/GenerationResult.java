package io.autoglm;

import java.util.List;
import java.util.Optional;

/**
 * A finished generation.
 *
 * @param requestId the engine's id for the request
 * @param tokenIds the generated ids, without the prompt; a stop token id that ended it is not included
 * @param text the decoded text when the request came in as text, else empty
 * @param error why the request failed, present exactly when {@code finishReason} is {@link FinishReason#ERROR}
 */
public record GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
    Usage usage, Optional<String> error) {
  public GenerationResult {
    tokenIds = List.copyOf(tokenIds);
    if (text == null || finishReason == null || usage == null || error == null) {
      throw new IllegalArgumentException("text, finishReason, usage and error must not be null");
    }
    if (error.isPresent() != (finishReason == FinishReason.ERROR)) {
      throw new IllegalArgumentException("error (" + error + ") must be present exactly when finishReason is ERROR, "
          + "not " + finishReason);
    }
  }

  /** A result that did not fail. */
  public GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
      Usage usage) {
    this(requestId, tokenIds, text, finishReason, usage, Optional.empty());
  }
}

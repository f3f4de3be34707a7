package io.autoglm;

import java.util.List;

/**
 * A finished generation.
 *
 * @param requestId the engine's id for the request
 * @param tokenIds the generated ids, without the prompt; a stop token id that ended it is not included
 * @param text the decoded text when the request came in as text, else empty
 */
public record GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
    Usage usage) {
  public GenerationResult {
    tokenIds = List.copyOf(tokenIds);
    if (text == null || finishReason == null || usage == null) {
      throw new IllegalArgumentException("text, finishReason and usage must not be null");
    }
  }
}

package io.autoglm;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A request from token ids.
 *
 * @param timeout the request finishes with {@link FinishReason#TIMEOUT} once it runs this long
 * @param user the caller key for rate limiting (OpenAI's {@code user}); "anonymous" when not given
 */
public record GenerationRequest(List<Integer> promptIds, SamplingParams sampling, Optional<Duration> timeout,
    String user) {
  public GenerationRequest {
    promptIds = List.copyOf(promptIds);
    if (sampling == null || timeout == null || user == null) {
      throw new IllegalArgumentException("sampling, timeout and user must not be null");
    }
    if (timeout.isPresent() && (timeout.get().isNegative() || timeout.get().isZero())) {
      throw new IllegalArgumentException("timeout (" + timeout.get() + ") must be positive");
    }
    if (user.isBlank()) {
      throw new IllegalArgumentException("user must not be blank");
    }
  }

  public static GenerationRequest of(List<Integer> promptIds, SamplingParams sampling) {
    return new GenerationRequest(promptIds, sampling, Optional.empty(), "anonymous");
  }

  public GenerationRequest withTimeout(Duration timeout) {
    return new GenerationRequest(promptIds, sampling, Optional.of(timeout), user);
  }

  public GenerationRequest withUser(String user) {
    return new GenerationRequest(promptIds, sampling, timeout, user);
  }
}

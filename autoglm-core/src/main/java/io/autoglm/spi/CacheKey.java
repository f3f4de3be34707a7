package io.autoglm.spi;

import io.autoglm.SamplingParams;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything that decides a response: the model, the canonical prompt and every sampling parameter.
 *
 * <p>A key exists only for deterministic requests (greedy, or with a seed): the constructor rejects any other, so a
 * sampled request without a seed can never be cached. Use {@link #ofTokens} or {@link #ofText}, which say "not
 * cacheable" with an empty {@code Optional} instead of throwing. Chat requests use their rendered chat template as
 * the text, which is exactly what the model sees.
 *
 * @param modelId the engine's model id
 * @param promptTokenIds the prompt of a token request; empty for a text request
 * @param promptText the prompt of a text or chat request; empty for a token request
 * @param params all sampling parameters, seed and stop conditions included
 */
public record CacheKey(String modelId, List<Integer> promptTokenIds, Optional<String> promptText,
    SamplingParams params) {

  public CacheKey {
    Objects.requireNonNull(modelId, "modelId must not be null");
    Objects.requireNonNull(promptTokenIds, "promptTokenIds must not be null");
    Objects.requireNonNull(promptText, "promptText must not be null; use Optional.empty() for a token request");
    Objects.requireNonNull(params, "params must not be null");
    if (modelId.isBlank()) {
      throw new IllegalArgumentException("modelId must not be blank");
    }
    promptTokenIds = List.copyOf(promptTokenIds);
    if (promptText.isPresent() == !promptTokenIds.isEmpty()) {
      throw new IllegalArgumentException(String.format(
          "a cache key needs exactly one prompt form: got %d prompt token ids and %s prompt text",
          promptTokenIds.size(), promptText.isPresent() ? "a" : "no"));
    }
    if (!isCacheable(params)) {
      throw new IllegalArgumentException(String.format(
          "params must be deterministic to be cached (temperature 0, or a seed): got temperature %s and no seed",
          params.temperature()));
    }
  }

  /** Whether a request with these parameters may be cached: greedy, or seeded. */
  public static boolean isCacheable(SamplingParams params) {
    return params.isDeterministic();
  }

  /** The key of a token request, or empty when {@code params} are not deterministic. */
  public static Optional<CacheKey> ofTokens(String modelId, List<Integer> promptTokenIds, SamplingParams params) {
    return isCacheable(params)
        ? Optional.of(new CacheKey(modelId, promptTokenIds, Optional.empty(), params))
        : Optional.empty();
  }

  /** The key of a text or chat request, or empty when {@code params} are not deterministic. */
  public static Optional<CacheKey> ofText(String modelId, String promptText, SamplingParams params) {
    return isCacheable(params)
        ? Optional.of(new CacheKey(modelId, List.of(), Optional.of(promptText), params))
        : Optional.empty();
  }

  /** A rough heap footprint of this key, in bytes, for the cache's weigher. */
  long estimatedBytes() {
    // ~16 bytes per boxed id in a list, ~2 per char (UTF-16 worst case), plus fixed overhead for the records.
    long stopChars = params.stop().stream().mapToLong(String::length).sum();
    return 128 + 2L * modelId.length() + 16L * promptTokenIds.size() + 2L * promptText.map(String::length).orElse(0)
        + 16L * params.stopTokenIds().size() + 2L * stopChars;
  }
}

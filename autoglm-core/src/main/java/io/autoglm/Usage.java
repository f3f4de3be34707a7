package io.autoglm;

/** Token counts of one request. {@code cachedPromptTokens} of the prompt were served from the prefix cache. */
public record Usage(int promptTokens, int completionTokens, int cachedPromptTokens) {
  public Usage {
    if (promptTokens < 0 || completionTokens < 0 || cachedPromptTokens < 0 || cachedPromptTokens > promptTokens) {
      throw new IllegalArgumentException(String.format(
          "usage needs 0 <= cachedPromptTokens (%d) <= promptTokens (%d) and completionTokens (%d) >= 0",
          cachedPromptTokens, promptTokens, completionTokens));
    }
  }

  public int totalTokens() {
    return promptTokens + completionTokens;
  }
}

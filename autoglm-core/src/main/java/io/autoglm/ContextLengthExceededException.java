package io.autoglm;

/**
 * A prompt that leaves no room in the context for even one generated token. Thrown at submit time, before any
 * compute; OpenAI-compatible servers answer it with {@code 400 context_length_exceeded}.
 */
public final class ContextLengthExceededException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final long promptTokens;
  private final int maxModelLen;

  /**
   * @param promptTokens the prompt's length in tokens, or a lower bound of it when the prompt was refused from its
   *     byte count before tokenizing
   */
  public ContextLengthExceededException(String message, long promptTokens, int maxModelLen) {
    super(message);
    this.promptTokens = promptTokens;
    this.maxModelLen = maxModelLen;
  }

  /** The prompt's tokens (or a lower bound of them, see the message). */
  public long promptTokens() {
    return promptTokens;
  }

  /** The context the model was loaded with, in tokens (prompt + output). */
  public int maxModelLen() {
    return maxModelLen;
  }
}

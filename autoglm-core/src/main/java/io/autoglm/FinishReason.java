package io.autoglm;

/** Why a generation ended. The lower-case names are OpenAI's {@code finish_reason} values where one exists. */
public enum FinishReason {
  /** An eos id, a stop token id or a stop string. */
  STOP,
  /** {@code maxNewTokens} or the model's context length. */
  LENGTH,
  /** The caller cancelled it. */
  CANCELLED,
  /** Its deadline passed. */
  TIMEOUT;

  /** OpenAI's spelling: {@code stop}, {@code length}, {@code cancelled}, {@code timeout}. */
  public String openAiName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}

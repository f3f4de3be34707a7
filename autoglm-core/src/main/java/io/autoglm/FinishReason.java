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
  TIMEOUT,
  /**
   * It failed alone (its detokenizer, stop-string matcher or listener threw); the rest of its batch went on. The
   * result's {@link GenerationResult#error()} says why.
   */
  ERROR,
  /**
   * The answer ended (as {@link #STOP} would) with tool calls, parsed because the request asked for them; the
   * result's {@link GenerationResult#toolCalls()} holds them.
   */
  TOOL_CALLS;

  /**
   * OpenAI's spelling: {@code stop}, {@code length}, {@code cancelled}, {@code timeout}, {@code error},
   * {@code tool_calls}.
   */
  public String openAiName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}

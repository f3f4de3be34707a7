package io.autoglm;

import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.List;
import java.util.Optional;

/**
 * A finished generation.
 *
 * @param requestId the engine's id for the request
 * @param tokenIds the generated ids, without the prompt; a stop token id that ended it is not included
 * @param text the decoded text when the request came in as text, else empty; always the raw answer, also when it
 *     was parsed
 * @param error why the request failed, present exactly when {@code finishReason} is {@link FinishReason#ERROR}
 * @param answer the text split into content, reasoning and tool calls, present when the request asked for it
 *     ({@link TextRequest#parsing()}); {@link FinishReason#TOOL_CALLS} needs calls in it
 * @param logprobs one per id of {@code tokenIds}, in order, when the request asked ({@link SamplingParams#logprobs()});
 *     else empty
 */
public record GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
    Usage usage, Optional<String> error, Optional<ParsedAnswer> answer, List<TokenLogprobs> logprobs) {
  public GenerationResult {
    tokenIds = List.copyOf(tokenIds);
    logprobs = List.copyOf(logprobs);
    if (!logprobs.isEmpty() && logprobs.size() != tokenIds.size()) {
      throw new IllegalArgumentException("logprobs (" + logprobs.size() + ") must be empty or one per token id ("
          + tokenIds.size() + ")");
    }
    if (text == null || finishReason == null || usage == null || error == null || answer == null) {
      throw new IllegalArgumentException("text, finishReason, usage, error and answer must not be null");
    }
    if (error.isPresent() != (finishReason == FinishReason.ERROR)) {
      throw new IllegalArgumentException("error (" + error + ") must be present exactly when finishReason is ERROR, "
          + "not " + finishReason);
    }
    if (finishReason == FinishReason.TOOL_CALLS && answer.map(a -> a.toolCalls().isEmpty()).orElse(true)) {
      throw new IllegalArgumentException("finishReason TOOL_CALLS needs a parsed answer with tool calls, not "
          + answer);
    }
  }

  /** A result without logprobs. */
  public GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
      Usage usage, Optional<String> error, Optional<ParsedAnswer> answer) {
    this(requestId, tokenIds, text, finishReason, usage, error, answer, List.of());
  }

  /** A result without a parsed answer. */
  public GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
      Usage usage, Optional<String> error) {
    this(requestId, tokenIds, text, finishReason, usage, error, Optional.empty());
  }

  /** A result that did not fail. */
  public GenerationResult(String requestId, List<Integer> tokenIds, String text, FinishReason finishReason,
      Usage usage) {
    this(requestId, tokenIds, text, finishReason, usage, Optional.empty());
  }

  /** What the user reads: the parsed content, else the raw text. */
  public String content() {
    return answer.map(ParsedAnswer::content).orElse(text);
  }

  /** The thinking block's text, when the answer was parsed and had one. */
  public Optional<String> reasoningContent() {
    return answer.flatMap(ParsedAnswer::reasoningContent);
  }

  /** The parsed tool calls; empty when there were none or the answer was not parsed. */
  public List<ToolCall> toolCalls() {
    return answer.map(ParsedAnswer::toolCalls).orElse(List.of());
  }

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

  /**
   * The log-probability of one generated token and of the most likely ids at its position: log-softmax of the
   * model's raw logits (temperature 1, before penalties, logit bias, a grammar's mask, top-k, top-p and min-p), over
   * the ids the tokenizer has text for. This is what vLLM returns by default ({@code raw_logprobs}); see
   * docs/sampling.md.
   *
   * @param tokenId the generated id
   * @param logprob its log-probability, &lt;= 0
   * @param top the {@code logprobs} most likely ids, most likely first (ties: lower id first); may or may not hold
   *     {@code tokenId}
   */
  public record TokenLogprobs(int tokenId, float logprob, List<Candidate> top) {
    public TokenLogprobs {
      top = List.copyOf(top);
    }

    /** One of the most likely ids at a position and its log-probability. */
    public record Candidate(int tokenId, float logprob) {}
  }
}

package io.autoglm;

import java.time.Duration;
import java.util.Optional;

/**
 * A request in text: a raw completion prompt, or a chat rendered with the model's own chat template. The result's
 * text and the stream's events carry decoded text; stop strings in {@link SamplingParams#stop()} end it and are
 * never emitted.
 *
 * @param prompt a completion prompt, encoded as given (special-token text in it is parsed as special tokens)
 * @param chat a conversation; its message content never turns into special tokens
 * @param user the caller key for rate limiting
 * @param parsing what to parse out of a chat answer into {@link GenerationResult#answer()} and the events' deltas
 *     (the format follows the model's chat template); {@link OutputParsing#RAW} for completions
 */
public record TextRequest(Optional<String> prompt, Optional<ChatPrompt> chat, SamplingParams sampling,
    Optional<Duration> timeout, String user, OutputParsing parsing) {
  public TextRequest {
    if (parsing == null || parsing != OutputParsing.RAW && chat.isEmpty()) {
      throw new IllegalArgumentException("parsing (" + parsing + ") must be RAW for a completion prompt, and "
          + "non-null");
    }
    if (prompt.isPresent() == chat.isPresent()) {
      throw new IllegalArgumentException("a text request needs exactly one of prompt and chat");
    }
    if (sampling == null || user == null || user.isBlank()) {
      throw new IllegalArgumentException("sampling and a non-blank user are required");
    }
    if (timeout.isPresent() && (timeout.get().isNegative() || timeout.get().isZero())) {
      throw new IllegalArgumentException("timeout (" + timeout.get() + ") must be positive");
    }
  }

  /** A request whose answer stays raw text. */
  public TextRequest(Optional<String> prompt, Optional<ChatPrompt> chat, SamplingParams sampling,
      Optional<Duration> timeout, String user) {
    this(prompt, chat, sampling, timeout, user, OutputParsing.RAW);
  }

  public static TextRequest completion(String prompt, SamplingParams sampling) {
    return new TextRequest(Optional.of(prompt), Optional.empty(), sampling, Optional.empty(), "anonymous");
  }

  public static TextRequest chat(ChatPrompt chat, SamplingParams sampling) {
    return new TextRequest(Optional.empty(), Optional.of(chat), sampling, Optional.empty(), "anonymous");
  }

  public TextRequest withTimeout(Duration timeout) {
    return new TextRequest(prompt, chat, sampling, Optional.of(timeout), user, parsing);
  }

  public TextRequest withUser(String user) {
    return new TextRequest(prompt, chat, sampling, timeout, user, parsing);
  }

  /** This chat request with its answer parsed; see {@link OutputParsing}. */
  public TextRequest withParsing(OutputParsing parsing) {
    return new TextRequest(prompt, chat, sampling, timeout, user, parsing);
  }

  /** What a chat request wants parsed out of its answer; plain completions stay raw text. */
  public enum OutputParsing {
    /** The answer is raw text. */
    RAW,
    /** The thinking block becomes reasoning content; tool calls stay text ({@code tool_choice: none}). */
    REASONING,
    /** The thinking block becomes reasoning content and the model's calls become tool calls. */
    REASONING_AND_TOOL_CALLS
  }
}

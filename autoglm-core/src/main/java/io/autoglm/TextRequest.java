package io.autoglm;

import io.autoglm.tokenizer.ChatPrompt;
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
 */
public record TextRequest(Optional<String> prompt, Optional<ChatPrompt> chat, SamplingParams sampling,
    Optional<Duration> timeout, String user) {
  public TextRequest {
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

  public static TextRequest completion(String prompt, SamplingParams sampling) {
    return new TextRequest(Optional.of(prompt), Optional.empty(), sampling, Optional.empty(), "anonymous");
  }

  public static TextRequest chat(ChatPrompt chat, SamplingParams sampling) {
    return new TextRequest(Optional.empty(), Optional.of(chat), sampling, Optional.empty(), "anonymous");
  }

  public TextRequest withTimeout(Duration timeout) {
    return new TextRequest(prompt, chat, sampling, Optional.of(timeout), user);
  }

  public TextRequest withUser(String user) {
    return new TextRequest(prompt, chat, sampling, timeout, user);
  }
}

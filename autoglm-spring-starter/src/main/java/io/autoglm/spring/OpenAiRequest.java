package io.autoglm.spring;

import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.ChatPrompt;
import io.autoglm.TextRequest.OutputParsing;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A checked {@code /v1/chat/completions} or {@code /v1/completions} request: exactly one of {@code chat} and
 * {@code prompt}, the sampling settings, and how to answer.
 *
 * @param model the model the client named, if any
 * @param n choices to generate; each is its own engine request, seeded {@code seed + i} when a seed is given
 * @param includeUsage streaming only: end with a chunk that carries usage ({@code stream_options.include_usage})
 * @param user the client's {@code user} field
 * @param echo completions only: the text starts with the prompt
 * @param parsing chat only: what the engine parses out of each answer (reasoning, tool calls); RAW for completions
 * @param parallelToolCalls chat only: false answers with at most the first of a choice's tool calls
 */
record OpenAiRequest(Optional<String> model, Optional<ChatPrompt> chat, Optional<String> prompt,
    SamplingParams sampling, int n, boolean stream, boolean includeUsage, Optional<String> user, boolean echo,
    OutputParsing parsing, boolean parallelToolCalls) {

  OpenAiRequest {
    if (chat.isPresent() == prompt.isPresent()) {
      throw new IllegalArgumentException("an OpenAI request holds exactly one of chat and prompt");
    }
    if (n < 1) {
      throw new IllegalArgumentException("n (" + n + ") must be >= 1");
    }
    if (parsing == null || parsing != OutputParsing.RAW && chat.isEmpty()) {
      throw new IllegalArgumentException("parsing (" + parsing + ") must be RAW for a completion, and non-null");
    }
  }

  /** A request whose answers stay raw text (parsing is set for chat by {@link #withToolHandling}). */
  OpenAiRequest(Optional<String> model, Optional<ChatPrompt> chat, Optional<String> prompt, SamplingParams sampling,
      int n, boolean stream, boolean includeUsage, Optional<String> user, boolean echo) {
    this(model, chat, prompt, sampling, n, stream, includeUsage, user, echo, OutputParsing.RAW, true);
  }

  OpenAiRequest withToolHandling(OutputParsing parsing, boolean parallelToolCalls) {
    return new OpenAiRequest(model, chat, prompt, sampling, n, stream, includeUsage, user, echo, parsing,
        parallelToolCalls);
  }

  boolean isChat() {
    return chat.isPresent();
  }

  /** One engine request per choice, for {@code caller} (the rate-limit key). */
  List<TextRequest> textRequests(String caller, Optional<Duration> timeout) {
    List<TextRequest> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      SamplingParams p = sampling;
      if (i > 0 && sampling.seed().isPresent()) {
        p = sampling.toBuilder().seed(sampling.seed().getAsLong() + i).build();
      }
      TextRequest r = chat.isPresent() ? TextRequest.chat(chat.get(), p).withParsing(parsing)
          : TextRequest.completion(prompt.get(), p);
      r = r.withUser(caller);
      out.add(timeout.isPresent() ? r.withTimeout(timeout.get()) : r);
    }
    return out;
  }
}

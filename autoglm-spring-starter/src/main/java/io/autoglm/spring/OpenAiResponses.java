package io.autoglm.spring;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.TokenEvent;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.TextRequest.OutputParsing;
import io.autoglm.toolcall.ParsedAnswer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The JSON bodies of one exchange in OpenAI's shapes: {@code chat.completion} and {@code text_completion} answers,
 * their streamed chunks, and usage. Fields OpenAI always sends are present, as null where they do not apply. A parsed
 * chat answer is a message's {@code content}, {@code reasoning_content} and {@code tool_calls}, streamed as the
 * deltas of those fields ({@link OpenAiToolCalls}); the raw text is then never sent.
 *
 * @param id {@code chatcmpl-…} or {@code cmpl-…}, shared by the answer and all its chunks
 * @param createdSeconds Unix time the request was accepted
 * @param includeUsage streaming: every chunk carries {@code "usage": null} and a last chunk the usage
 * @param parsing what the engine parsed out of each answer; RAW: the text is the content
 * @param parallelToolCalls false: only a choice's first tool call is sent (its later ones are dropped, streamed and
 *     not; the finish reason stays {@code tool_calls})
 * @param logprobs how token logprobs are written, when the request asked for them; streamed, a chunk carries the
 *     logprobs of the tokens whose text (or parsed deltas) it sends, and the finish chunk those of tokens whose
 *     text never showed (cut by a stop string)
 */
record OpenAiResponses(String id, long createdSeconds, String model, boolean chat, boolean includeUsage,
    OutputParsing parsing, boolean parallelToolCalls, Optional<OpenAiLogprobs> logprobs) {

  /** Answers without logprobs. */
  OpenAiResponses(String id, long createdSeconds, String model, boolean chat, boolean includeUsage,
      OutputParsing parsing, boolean parallelToolCalls) {
    this(id, createdSeconds, model, chat, includeUsage, parsing, parallelToolCalls, Optional.empty());
  }

  /** Answers whose text is sent as it is. */
  OpenAiResponses(String id, long createdSeconds, String model, boolean chat, boolean includeUsage) {
    this(id, createdSeconds, model, chat, includeUsage, OutputParsing.RAW, true);
  }

  /** The whole answer of a non-streamed request; {@code echo} is prepended to each completion's text. */
  Map<String, Object> answer(List<GenerationResult> results, String echo) {
    List<Object> choices = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      GenerationResult r = results.get(i);
      Map<String, Object> choice = new LinkedHashMap<>();
      choice.put("index", i);
      if (chat) {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("role", "assistant");
        OpenAiToolCalls.fill(message, parallelToolCalls ? r : firstCallOnly(r));
        message.put("refusal", null);
        choice.put("message", message);
      } else {
        choice.put("text", echo + r.text());
      }
      choice.put("logprobs", logprobs.filter(l -> !r.logprobs().isEmpty())
          .map(l -> chat ? l.chat(r.logprobs()) : l.completion(r.logprobs(), echo.length())).orElse(null));
      choice.put("finish_reason", finishReason(r.finishReason()));
      choices.add(choice);
    }
    Map<String, Object> body = head(chat ? "chat.completion" : "text_completion");
    body.put("choices", choices);
    body.put("usage", usage(results));
    return body;
  }

  /** A chat stream's first chunk of a choice: the assistant role, no text yet. */
  Map<String, Object> roleChunk(int index) {
    Map<String, Object> delta = new LinkedHashMap<>();
    delta.put("role", "assistant");
    delta.put("content", "");
    return chunk(index, delta, "", null);
  }

  Map<String, Object> textChunk(int index, String text) {
    return chunk(index, Map.of("content", text), text, null);
  }

  /** The chunks of one token event: its text, or (a parsed answer) one chunk per delta it completes. */
  List<Map<String, Object>> eventChunks(int index, TokenEvent event) {
    return eventChunks(index, event, null);
  }

  /**
   * {@link #eventChunks(int, TokenEvent)}, the event's logprobs added to the choice's {@code pending} ones, which the
   * first chunk then carries (pending may be null: no logprobs).
   */
  List<Map<String, Object>> eventChunks(int index, TokenEvent event, OpenAiLogprobs.Pending pending) {
    List<Map<String, Object>> chunks = eventChunksOnly(index, event);
    if (pending != null) {
      event.logprobs().ifPresent(pending::add);
      if (!chunks.isEmpty() && !pending.isEmpty()) {
        withLogprobs(chunks.get(0), pending.take(chat));
      }
    }
    return chunks;
  }

  /** A per-choice holder of streamed logprobs, or null when the request asked for none. */
  OpenAiLogprobs.Pending pendingLogprobs(String echo) {
    return logprobs.map(l -> l.new Pending(echo.length())).orElse(null);
  }

  @SuppressWarnings("unchecked")
  private static void withLogprobs(Map<String, Object> chunk, Map<String, Object> logprobs) {
    ((Map<String, Object>) ((List<Object>) chunk.get("choices")).get(0)).put("logprobs", logprobs);
  }

  private List<Map<String, Object>> eventChunksOnly(int index, TokenEvent event) {
    if (parsing == OutputParsing.RAW) {
      return event.text().isEmpty() ? List.of() : List.of(textChunk(index, event.text()));
    }
    List<Map<String, Object>> chunks = new ArrayList<>();
    for (AnswerDelta d : event.deltas()) {
      if (parallelToolCalls || callIndex(d) <= 0) {
        chunks.add(chunk(index, OpenAiToolCalls.delta(d), "", null));
      }
    }
    return chunks;
  }

  private static int callIndex(AnswerDelta d) {
    if (d instanceof AnswerDelta.ToolCallStart s) {
      return s.index();
    }
    return d instanceof AnswerDelta.ToolCallArguments a ? a.index() : -1;
  }

  /** The result with its later tool calls dropped. */
  private static GenerationResult firstCallOnly(GenerationResult r) {
    if (r.toolCalls().size() <= 1) {
      return r;
    }
    ParsedAnswer a = r.answer().orElseThrow();
    return new GenerationResult(r.requestId(), r.tokenIds(), r.text(), r.finishReason(), r.usage(), r.error(),
        Optional.of(new ParsedAnswer(a.content(), a.reasoningContent(), a.toolCalls().subList(0, 1))),
        r.logprobs());
  }

  Map<String, Object> finishChunk(int index, FinishReason reason) {
    return chunk(index, Map.of(), "", finishReason(reason));
  }

  /** The finish chunk, carrying the logprobs still pending (tokens whose text never showed), if any. */
  Map<String, Object> finishChunk(int index, FinishReason reason, OpenAiLogprobs.Pending pending) {
    Map<String, Object> c = finishChunk(index, reason);
    if (pending != null && !pending.isEmpty()) {
      withLogprobs(c, pending.take(chat));
    }
    return c;
  }

  /** The last chunk when usage is asked for: no choices, the usage of all of them. */
  Map<String, Object> usageChunk(List<GenerationResult> results) {
    Map<String, Object> body = head(chat ? "chat.completion.chunk" : "text_completion");
    body.put("choices", List.of());
    body.put("usage", usage(results));
    return body;
  }

  private Map<String, Object> chunk(int index, Map<String, Object> delta, String text, String finishReason) {
    Map<String, Object> choice = new LinkedHashMap<>();
    choice.put("index", index);
    if (chat) {
      choice.put("delta", delta);
    } else {
      choice.put("text", text);
    }
    choice.put("logprobs", null);
    choice.put("finish_reason", finishReason);
    Map<String, Object> body = head(chat ? "chat.completion.chunk" : "text_completion");
    body.put("choices", List.of(choice));
    if (includeUsage) {
      body.put("usage", null);
    }
    return body;
  }

  private Map<String, Object> head(String object) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("id", id);
    body.put("object", object);
    body.put("created", createdSeconds);
    body.put("model", model);
    body.put("system_fingerprint", null);
    return body;
  }

  /** The prompt counts once (all choices share it); completion tokens add up over the choices. */
  static Map<String, Object> usage(List<GenerationResult> results) {
    int prompt = results.isEmpty() ? 0 : results.get(0).usage().promptTokens();
    int cached = results.isEmpty() ? 0 : results.get(0).usage().cachedPromptTokens();
    int completion = results.stream().mapToInt(r -> r.usage().completionTokens()).sum();
    Map<String, Object> usage = new LinkedHashMap<>();
    usage.put("prompt_tokens", prompt);
    usage.put("completion_tokens", completion);
    usage.put("total_tokens", prompt + completion);
    usage.put("prompt_tokens_details", Map.of("cached_tokens", cached));
    return usage;
  }

  /** Whether the engine ended a request alone because it failed in it (its result's error says why). */
  static boolean failed(GenerationResult result) {
    return result.finishReason() == FinishReason.ERROR;
  }

  /** OpenAI's {@code stop} and {@code length}; a timed-out or cancelled request says so. */
  static String finishReason(FinishReason reason) {
    return reason.openAiName();
  }
}

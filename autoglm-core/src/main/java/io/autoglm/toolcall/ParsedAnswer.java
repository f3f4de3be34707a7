package io.autoglm.toolcall;

import java.util.List;
import java.util.Optional;

/**
 * A model's answer split into what the user reads, what the model thought and the calls it made.
 *
 * @param content          the text outside the thinking block and the calls; whitespace that only separates them
 *                         (after {@code </think>}, around a call) is dropped
 * @param reasoningContent the thinking block's text, present when the answer had one (or began inside one)
 * @param toolCalls        the well-formed calls in answer order; a malformed call stays in the text
 */
public record ParsedAnswer(String content, Optional<String> reasoningContent, List<ToolCall> toolCalls) {
  public ParsedAnswer {
    if (content == null || reasoningContent == null || toolCalls == null) {
      throw new IllegalArgumentException("content, reasoningContent and toolCalls must not be null");
    }
    toolCalls = List.copyOf(toolCalls);
  }
}

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

  /** The answer as deltas (reasoning, content, then each call), for replaying a stored answer as a stream. */
  public List<AnswerDelta> asDeltas() {
    List<AnswerDelta> deltas = new java.util.ArrayList<>();
    reasoningContent.filter(r -> !r.isEmpty()).ifPresent(r -> deltas.add(new AnswerDelta.Reasoning(r)));
    if (!content.isEmpty()) {
      deltas.add(new AnswerDelta.Content(content));
    }
    for (int i = 0; i < toolCalls.size(); i++) {
      deltas.add(new AnswerDelta.ToolCallStart(i, toolCalls.get(i).id(), toolCalls.get(i).name()));
      deltas.add(new AnswerDelta.ToolCallArguments(i, toolCalls.get(i).argumentsJson()));
    }
    return deltas;
  }
}

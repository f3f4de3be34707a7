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

  /**
   * One function call the model made, in OpenAI's shape.
   *
   * @param id            the call's id ({@code call_…}), unique within an answer
   * @param name          the function's name as the model wrote it (not checked against the tools on offer, as vLLM)
   * @param argumentsJson the arguments as a JSON object text
   */
  public record ToolCall(String id, String name, String argumentsJson) {
    public ToolCall {
      if (id == null || id.isEmpty() || name == null || name.isEmpty() || argumentsJson == null) {
        throw new IllegalArgumentException("id (" + id + ") and name (" + name + ") must be non-empty and "
            + "argumentsJson non-null");
      }
    }
  }

  /**
   * One piece of a parsed answer as it streams. A call arrives as a {@link ToolCallStart} (its id and name) followed by
   * {@link ToolCallArguments} fragments whose concatenation is the call's {@link ToolCall#argumentsJson()}, as
   * OpenAI streams {@code tool_calls}.
   */
  public sealed interface AnswerDelta {
    /** Answer text the user reads (OpenAI {@code content}). */
    record Content(String text) implements AnswerDelta {}

    /** Thinking text (OpenAI-compatible servers' {@code reasoning_content}). */
    record Reasoning(String text) implements AnswerDelta {}

    /** A call begins; {@code index} counts the answer's calls from 0. */
    record ToolCallStart(int index, String id, String name) implements AnswerDelta {}

    /** A fragment of call {@code index}'s arguments JSON. */
    record ToolCallArguments(int index, String fragment) implements AnswerDelta {}
  }
}

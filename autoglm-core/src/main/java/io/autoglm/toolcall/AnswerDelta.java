package io.autoglm.toolcall;

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

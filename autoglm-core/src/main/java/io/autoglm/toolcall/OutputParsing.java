package io.autoglm.toolcall;

/** What a chat request wants parsed out of its answer; plain completions stay raw text. */
public enum OutputParsing {
  /** The answer is raw text. */
  RAW,
  /** The thinking block becomes reasoning content; tool calls stay text ({@code tool_choice: none}). */
  REASONING,
  /** The thinking block becomes reasoning content and the model's calls become tool calls. */
  REASONING_AND_TOOL_CALLS
}

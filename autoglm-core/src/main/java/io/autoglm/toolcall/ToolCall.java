package io.autoglm.toolcall;

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

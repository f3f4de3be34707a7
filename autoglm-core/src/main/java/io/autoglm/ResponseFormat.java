package io.autoglm;

import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The shape the output must have: any JSON object, or JSON valid under a JSON Schema (the supported subset is in
 * docs/structured-output.md). Generation is constrained token by token, so the text is valid JSON of that shape
 * whenever it finishes with {@link FinishReason#STOP}; with {@link FinishReason#LENGTH} it is a prefix of one
 * (max tokens cut the value).
 *
 * <p>{@link Type#TOOL_CALL} forces a call of one of {@code tools} (OpenAI's {@code tool_choice: "required"}) or of
 * the one named {@code toolName} (a named function), written in the model's own call syntax (decided at submit from
 * the chat template, see docs/structured-output.md) with arguments valid under the tool's parameter schema.
 *
 * @param jsonSchema the schema's JSON text, present exactly for {@link Type#JSON_SCHEMA}
 * @param tools      the tools in the OpenAI shape ({@code {"type":"function","function":{name, parameters}}}),
 *                   non-empty exactly for {@link Type#TOOL_CALL}
 * @param toolName   the forced function, one of {@code tools}; empty: any of them ({@link Type#TOOL_CALL} only)
 */
public record ResponseFormat(Type type, Optional<String> jsonSchema, List<Map<String, Object>> tools,
    Optional<String> toolName) {
  /** The kinds of constrained output. */
  public enum Type {
    /** Any JSON object (compact, nesting bounded). */
    JSON_OBJECT,
    /** JSON valid under {@link #jsonSchema()}. */
    JSON_SCHEMA,
    /** A call of one of {@link #tools()} (or of {@link #toolName()}) in the model's call syntax. */
    TOOL_CALL
  }

  public ResponseFormat {
    if (type == null || jsonSchema == null || tools == null || toolName == null) {
      throw new IllegalArgumentException("type, jsonSchema, tools and toolName must not be null; use "
          + "Optional.empty() and List.of()");
    }
    tools = List.copyOf(tools);
    if (type != Type.TOOL_CALL && (!tools.isEmpty() || toolName.isPresent())) {
      throw new IllegalArgumentException(type + " takes no tools, got " + tools.size() + " and toolName " + toolName);
    }
    if (type == Type.TOOL_CALL) {
      checkTools(tools, toolName);
    }
    if (type == Type.JSON_OBJECT && jsonSchema.isPresent()) {
      throw new IllegalArgumentException("json_object takes no schema, got " + jsonSchema.get());
    }
    if (type == Type.JSON_SCHEMA) {
      String schema = jsonSchema.orElseThrow(() -> new IllegalArgumentException("json_schema needs a schema"));
      try {
        if (!JsonParser.parseString(schema).isJsonObject()) {
          throw new IllegalArgumentException("json_schema (" + abbreviate(schema) + ") must be a JSON object");
        }
      } catch (JsonParseException e) {
        throw new IllegalArgumentException("json_schema (" + abbreviate(schema) + ") is not valid JSON: "
            + e.getMessage(), e);
      }
    }
  }

  /** The format of {@code type} with a schema or none: {@link Type#JSON_OBJECT} and {@link Type#JSON_SCHEMA}. */
  public ResponseFormat(Type type, Optional<String> jsonSchema) {
    this(type, jsonSchema, List.of(), Optional.empty());
  }

  /**
   * A forced call: of {@code toolName} when present (a named function), else of any of {@code tools}
   * ({@code tool_choice: "required"}).
   *
   * @throws IllegalArgumentException when {@code tools} is empty, a tool has no name, or {@code toolName} is not
   *     among them (the message names it)
   */
  public static ResponseFormat toolCall(List<Map<String, Object>> tools, Optional<String> toolName) {
    return new ResponseFormat(Type.TOOL_CALL, Optional.empty(), tools, toolName);
  }

  /** The function names of OpenAI-shaped tools, in order. */
  public static Set<String> toolNames(List<Map<String, Object>> tools) {
    Set<String> names = new LinkedHashSet<>();
    for (int i = 0; i < tools.size(); i++) {
      Map<String, Object> tool = tools.get(i);
      Object f = tool.get("function") instanceof Map<?, ?> m ? m.get("name") : tool.get("name");
      if (!(f instanceof String s) || s.isEmpty()) {
        throw new IllegalArgumentException("tools[" + i + "].function.name must be a non-empty string, got " + f);
      }
      names.add(s);
    }
    return names;
  }

  private static void checkTools(List<Map<String, Object>> tools, Optional<String> toolName) {
    if (tools.isEmpty()) {
      throw new IllegalArgumentException("a forced tool call needs at least one tool, got none");
    }
    Set<String> names = toolNames(tools);
    if (toolName.isPresent() && !names.contains(toolName.get())) {
      throw new IllegalArgumentException("tool_choice names function '" + toolName.get()
          + "', which is not among the tools " + names);
    }
  }

  /** Any JSON object. */
  public static ResponseFormat jsonObject() {
    return new ResponseFormat(Type.JSON_OBJECT, Optional.empty());
  }

  /** JSON valid under the schema {@code schemaJson} (JSON text of a schema object). */
  public static ResponseFormat jsonSchema(String schemaJson) {
    return new ResponseFormat(Type.JSON_SCHEMA, Optional.of(schemaJson));
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}

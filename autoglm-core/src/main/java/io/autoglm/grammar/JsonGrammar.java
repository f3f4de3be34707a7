package io.autoglm.grammar;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A compiled JSON grammar: the byte-level pushdown automaton of one JSON Schema (or of "any JSON object"). Output
 * is compact JSON (no whitespace), so every accepted text has a bounded length wherever the schema bounds it.
 * Immutable and thread-safe; {@link #matcher} gives each sequence its own state.
 */
public final class JsonGrammar {
  private final Node root;
  private final String description;

  private JsonGrammar(Node root, String description) {
    this.root = root;
    this.description = description;
  }

  /**
   * Compiles a JSON Schema given as JSON text.
   *
   * @throws IllegalArgumentException for malformed JSON, or a keyword the grammar cannot enforce (the message
   *     names it and where it is)
   */
  public static JsonGrammar fromSchema(String schemaJson) {
    JsonElement schema;
    try {
      schema = JsonParser.parseString(schemaJson);
    } catch (JsonParseException e) {
      throw new IllegalArgumentException("json_schema is not valid JSON: " + e.getMessage(), e);
    }
    return new JsonGrammar(SchemaCompiler.compile(schema), "json_schema");
  }

  /** Any JSON object, nesting bounded ({@code json_object} mode). */
  public static JsonGrammar anyObject() {
    return new JsonGrammar(SchemaCompiler.anyObject(), "json_object");
  }

  /**
   * A forced tool call in GLM-4's syntax ({@code NAME\n{JSON arguments}}): of {@code toolName} when present, else
   * of any of {@code tools}.
   *
   * @throws IllegalArgumentException as {@link ToolCallGrammar#glm4} does
   */
  public static JsonGrammar toolCallGlm4(List<Map<String, Object>> tools, Optional<String> toolName) {
    return new JsonGrammar(ToolCallGrammar.glm4(tools, toolName), "tool_call" + toolName.map(n -> "[" + n + "]")
        .orElse(""));
  }

  /** A fresh matcher at the start of a value, over {@code vocabulary}. */
  public GrammarMatcher matcher(TokenVocabulary vocabulary) {
    return new GrammarMatcher(Stack.EMPTY.push(new Frame.Expect(root)), vocabulary);
  }

  @Override
  public String toString() {
    return "JsonGrammar[" + description + "]";
  }
}

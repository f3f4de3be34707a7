package io.autoglm.grammar;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Compiles a forced tool call into a {@link Node}: GLM-4's call syntax ({@code NAME\n} then the arguments as a
 * compact JSON object valid under the tool's {@code parameters} schema), one alternative per allowed tool. The
 * grammar ends after one call, so the only id allowed next is eos. GLM-4.5's XML syntax is not compiled (refused
 * with a message saying so).
 */
final class ToolCallGrammar {
  private static final Gson GSON = new Gson();

  private ToolCallGrammar() {}

  /**
   * @param tools    OpenAI-shaped tools ({@code {"type":"function","function":{name, parameters}}})
   * @param toolName the forced tool; empty: any of {@code tools}
   * @throws IllegalArgumentException for a tool without a name, a name not among the tools, or a parameter schema
   *     the grammar cannot enforce (the message names the tool and the keyword)
   */
  static Node glm4(List<Map<String, Object>> tools, Optional<String> toolName) {
    List<Node> calls = new ArrayList<>();
    for (int i = 0; i < tools.size(); i++) {
      Map<?, ?> f = function(tools.get(i));
      if (!(f.get("name") instanceof String name) || name.isEmpty() || name.contains("\n")) {
        throw new IllegalArgumentException("tools[" + i + "].function.name must be a non-empty string without a "
            + "line break, got " + f.get("name"));
      }
      if (toolName.isPresent() && !toolName.get().equals(name)) {
        continue;
      }
      calls.add(new Node.Seq(LiteralNode.of(name + "\n"), arguments(f.get("parameters"), name)));
    }
    if (calls.isEmpty()) {
      throw new IllegalArgumentException("tool_choice names function '" + toolName.orElse("")
          + "', which is not among the tools");
    }
    return calls.size() == 1 ? calls.get(0) : new Node.AnyOf(calls);
  }

  /**
   * The arguments' grammar: an object under {@code parameters}; parameters absent or declaring no property: the
   * empty object {@code {}} only (valid under any such schema, and what a call without arguments is).
   */
  private static Node arguments(Object parameters, String name) {
    if (parameters == null) {
      return new ObjectNode(List.of());
    }
    JsonElement schema = GSON.toJsonTree(parameters);
    if (!schema.isJsonObject()) {
      throw new IllegalArgumentException("tool '" + name + "': parameters must be a JSON Schema object, got "
          + schema);
    }
    JsonObject s = schema.getAsJsonObject();
    if (s.has("type") && !"object".equals(s.get("type").isJsonPrimitive() ? s.get("type").getAsString() : "")) {
      throw new IllegalArgumentException("tool '" + name + "': parameters.type must be \"object\", got "
          + s.get("type"));
    }
    if (!s.has("properties") || s.get("properties").isJsonObject() && s.getAsJsonObject("properties").isEmpty()) {
      return new ObjectNode(List.of()); // declares no argument: the call takes none, as a model writes it
    }
    s = s.deepCopy();
    s.addProperty("type", "object");
    try {
      return SchemaCompiler.compile(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("tool '" + name + "' parameters: " + e.getMessage(), e);
    }
  }

  private static Map<?, ?> function(Map<String, Object> tool) {
    return tool.get("function") instanceof Map<?, ?> f ? f : tool;
  }
}

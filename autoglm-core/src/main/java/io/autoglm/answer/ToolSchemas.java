package io.autoglm.answer;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Reads the OpenAI-shaped tool list: function names and which parameters the schema declares as strings. */
final class ToolSchemas {
  private ToolSchemas() {}

  static Set<String> names(List<Map<String, Object>> tools) {
    Set<String> names = new LinkedHashSet<>();
    for (Map<String, Object> tool : tools) {
      if (function(tool).get("name") instanceof String s) {
        names.add(s);
      }
    }
    return names;
  }

  /**
   * Whether {@code param} of {@code toolName} is a string parameter: its schema's {@code type} is "string", or a
   * list holding "string". Such values are kept raw, as the template wrote them; all others are read as JSON.
   */
  static boolean isString(List<Map<String, Object>> tools, String toolName, String param) {
    for (Map<String, Object> tool : tools) {
      Map<?, ?> f = function(tool);
      if (toolName.equals(f.get("name")) && f.get("parameters") instanceof Map<?, ?> params
          && params.get("properties") instanceof Map<?, ?> props && props.get(param) instanceof Map<?, ?> p) {
        Object type = p.get("type");
        return "string".equals(type) || type instanceof List<?> l && l.contains("string");
      }
    }
    return false;
  }

  /** The {@code function} object of {@code {"type": "function", "function": {...}}}, or the tool itself. */
  private static Map<?, ?> function(Map<String, Object> tool) {
    return tool.get("function") instanceof Map<?, ?> f ? f : tool;
  }
}

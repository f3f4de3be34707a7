package io.autoglm.tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Where a chat template reads tools, found by rendering it: GLM-4-0414 and GLM-4.5 templates read the top-level
 * {@code tools} variable; glm-4-9b-chat's reads a message's {@code tools} key (GLM-4's own openai_api_server.py
 * prepends {@code {"role": "system", "content": None, "tools": tools}}). Probing the rendered output, rather than
 * the source, sees through {@code {% set tools = item['tools'] %}}, which names the variable but reads the message.
 *
 * @param variable   the top-level {@code tools} variable appears in the output
 * @param messageKey a system message's {@code tools} key appears in the output
 * @param toolCalls  an assistant message's OpenAI-shaped {@code tool_calls} appear in the output
 */
record ToolSupport(boolean variable, boolean messageKey, boolean toolCalls) {
  /** A name no real tool has; a template that renders a tool renders its name. */
  private static final String PROBE = "autoglm_probe_tool_7c1e";

  /** @param render renders one template context and returns the text; a failure counts as "not rendered" */
  static ToolSupport probe(Function<Map<String, Object>, String> render) {
    Map<String, Object> user = message("user", "probe");
    boolean variable = renders(render, List.of(user), List.of(tool()));
    Map<String, Object> system = message("system", "");
    system.put("tools", List.of(tool()));
    boolean messageKey = renders(render, List.of(system, user), null);
    Map<String, Object> assistant = message("assistant", "");
    Map<String, Object> call = new LinkedHashMap<>();
    call.put("type", "function");
    call.put("function", new LinkedHashMap<>(Map.of("name", PROBE, "arguments", new LinkedHashMap<>())));
    assistant.put("tool_calls", new ArrayList<>(List.of(call)));
    boolean toolCalls = renders(render, List.of(user, assistant, message("user", "probe")), null);
    return new ToolSupport(variable, messageKey, toolCalls);
  }

  /**
   * The template context's messages and {@code tools} variable for {@code prompt}: its tools where the template
   * reads them, and an error instead of a silent drop where it reads none, or where a message carries tools or tool
   * calls that the template never renders.
   *
   * @param messages the prompt's messages in the template's form; a tools message may be put first
   * @param tools    the prompt's tools in the template's form, empty for none
   * @return the value of the {@code tools} variable: null for none
   */
  Object place(List<Object> messages, List<Object> tools) {
    for (int i = 0; i < messages.size(); i++) {
      Map<?, ?> m = (Map<?, ?>) messages.get(i);
      if (m.containsKey("tools") && !messageKey) {
        throw new IllegalArgumentException("message " + i + " has a 'tools' field, but this chat template does not "
            + "read tools from messages" + (variable ? ": give them as the prompt's tools" : "; " + noTools()));
      }
      if (m.get("tool_calls") instanceof List<?> calls && !calls.isEmpty() && !toolCalls) {
        throw new IllegalArgumentException("message " + i + " has " + calls.size() + " tool_calls, but this chat "
            + "template never renders tool_calls, so the calls would be dropped (GLM-4's form is an assistant "
            + "message whose 'metadata' is the function name and whose content is the arguments)");
      }
    }
    if (tools.isEmpty()) {
      return null;
    }
    if (variable) {
      return tools;
    }
    if (!messageKey) {
      throw new IllegalArgumentException("the request has " + tools.size() + " tools, but " + noTools());
    }
    Map<String, Object> system = message("system", "");
    system.put("tools", tools);
    messages.add(0, system);
    return null;
  }

  private static String noTools() {
    return "the chat template has no tools support: it renders neither the 'tools' variable nor a message's "
        + "'tools' key (send the request without tools, or use a template that renders them)";
  }

  private static boolean renders(Function<Map<String, Object>, String> render, List<Object> messages, Object tools) {
    Map<String, Object> ctx = new LinkedHashMap<>();
    ctx.put("messages", new ArrayList<>(messages));
    ctx.put("tools", tools);
    ctx.put("add_generation_prompt", true);
    try {
      return render.apply(ctx).contains(PROBE);
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static Map<String, Object> message(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  private static Map<String, Object> tool() {
    Map<String, Object> function = new LinkedHashMap<>();
    function.put("name", PROBE);
    function.put("description", PROBE);
    function.put("parameters", new LinkedHashMap<>(Map.of("type", "object", "properties", new LinkedHashMap<>())));
    Map<String, Object> tool = new LinkedHashMap<>();
    tool.put("type", "function");
    tool.put("function", function);
    return tool;
  }
}

package io.autoglm.spring;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import io.autoglm.tokenizer.ChatTemplate;
import io.autoglm.answer.AnswerFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The forms the model's chat template gives OpenAI's tool turns, found by rendering the template, and whether its
 * answers think. {@link #adapt} rewrites a conversation into those forms:
 * <ul>
 *   <li>a tool result ({@code role: tool} or {@code observation}) takes the role the template renders as
 *       {@code <|observation|>}: {@code tool} for GLM-4.5, {@code observation} for glm-4-9b-chat (which prints the
 *       role's name into {@code <|role|>}); other fields ({@code tool_call_id}) stay;</li>
 *   <li>an assistant's {@code tool_calls}, where the template renders them, keep their shape with each
 *       {@code function.arguments} JSON text read into an object (transformers' templates iterate
 *       {@code arguments.items()}; vLLM reads them the same way); elsewhere (GLM-4) each call becomes an assistant
 *       message whose {@code metadata} is the function name and whose content is the arguments text, after the
 *       message's own content, as GLM-4's openai_api_server.py builds them.</li>
 * </ul>
 * Invariant: arguments are checked to be a JSON object in both forms, so a conversation is refused alike whatever
 * the template.
 *
 * @param thinking        answers may hold a {@code <think>} block ({@link AnswerFormat#thinks})
 * @param toolResultRole  {@code tool} or {@code observation}
 * @param nativeToolCalls the template renders {@code tool_calls}
 */
record ChatTemplateForms(boolean thinking, String toolResultRole, boolean nativeToolCalls) {
  /** OpenAI's own forms: for a model without a chat template (chat requests fail in the engine anyway). */
  static final ChatTemplateForms OPENAI = new ChatTemplateForms(false, "tool", true);
  private static final String OBSERVATION = "<|observation|>";

  static ChatTemplateForms of(Optional<ChatTemplate> template) {
    if (template.isEmpty()) {
      return OPENAI;
    }
    ChatTemplate t = template.get();
    String role = rendersObservation(t, "tool") || !rendersObservation(t, "observation") ? "tool" : "observation";
    return new ChatTemplateForms(AnswerFormat.thinks(t.source()), role, t.rendersToolCalls());
  }

  private static boolean rendersObservation(ChatTemplate t, String role) {
    try {
      return t.render(ChatPrompt.of(List.of(ChatMessage.user("probe"), new ChatMessage(role, "result"))))
          .contains(OBSERVATION);
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** The conversation in the template's forms; a bad tool call is a 400 naming {@code messages[i].tool_calls[j]}. */
  List<ChatMessage> adapt(List<ChatMessage> messages) {
    List<ChatMessage> out = new ArrayList<>(messages.size());
    for (int i = 0; i < messages.size(); i++) {
      ChatMessage m = messages.get(i);
      if (m.role().equals("tool") || m.role().equals("observation")) {
        out.add(new ChatMessage(toolResultRole, m.content(), m.fields()));
      } else if (m.role().equals("assistant") && m.fields().get("tool_calls") instanceof List<?> calls
          && !calls.isEmpty()) {
        addCalls(out, m, calls, "messages[" + i + "].tool_calls");
      } else {
        out.add(m);
      }
    }
    return out;
  }

  private void addCalls(List<ChatMessage> out, ChatMessage m, List<?> calls, String at) {
    List<Object> adapted = new ArrayList<>();
    List<ChatMessage> glm4 = new ArrayList<>();
    for (int j = 0; j < calls.size(); j++) {
      String param = at + "[" + j + "]";
      if (!(calls.get(j) instanceof Map<?, ?> call) || !(call.get("function") instanceof Map<?, ?> function)
          || !(function.get("name") instanceof String name)) {
        throw OpenAiException.badRequest(param, "'" + param + "' must be {\"type\": \"function\", \"function\": "
            + "{\"name\": ..., \"arguments\": ...}}");
      }
      Object given = function.get("arguments");
      Object arguments = arguments(given, param + ".function.arguments");
      Map<String, Object> f = copy(function);
      f.put("arguments", arguments);
      Map<String, Object> c = copy(call);
      c.put("function", f);
      adapted.add(c);
      String text = given instanceof String g ? g : Json.string(arguments); // the client's text, byte for byte
      glm4.add(new ChatMessage("assistant", text, Map.of("metadata", name)));
    }
    if (nativeToolCalls) {
      Map<String, Object> fields = new LinkedHashMap<>(m.fields());
      fields.put("tool_calls", adapted);
      out.add(new ChatMessage("assistant", m.content(), fields));
      return;
    }
    Map<String, Object> fields = new LinkedHashMap<>(m.fields());
    fields.remove("tool_calls");
    if (!m.content().joined().isEmpty()) {
      out.add(new ChatMessage("assistant", m.content(), fields));
    }
    out.addAll(glm4);
  }

  /** The arguments as an object: a JSON object text is read, an object kept; anything else is a 400. */
  private static Object arguments(Object value, String param) {
    Object parsed = value instanceof String s ? Json.parse(s).orElse(null) : value;
    if (!(parsed instanceof Map<?, ?>)) {
      throw OpenAiException.badRequest(param, "'" + param + "' must be a JSON object (as a string), not "
          + (value instanceof String s ? "'" + s + "'" : String.valueOf(value)));
    }
    return parsed;
  }

  private static Map<String, Object> copy(Map<?, ?> m) {
    Map<String, Object> c = new LinkedHashMap<>();
    m.forEach((k, v) -> c.put(String.valueOf(k), v));
    return c;
  }
}

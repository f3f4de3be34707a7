package io.autoglm.tokenizer;

import io.autoglm.ChatMessage;
import io.autoglm.ChatPrompt;
import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Tool turns of a conversation (an assistant's calls, a tool's result) in the forms the model's chat template
 * renders, found by rendering the template. For in-process callers (LangChain4j, Spring AI) that hold typed calls:
 * <ul>
 *   <li>a tool result takes the role the template renders as {@code <|observation|>}: {@code tool} for GLM-4.5,
 *       {@code observation} for glm-4-9b-chat (which prints the role's name into {@code <|role|>});</li>
 *   <li>an assistant's calls, where the template renders {@code tool_calls}, are one assistant message with OpenAI's
 *       {@code tool_calls} whose {@code function.arguments} is the arguments read into an object (transformers'
 *       templates iterate {@code arguments.items()}); elsewhere (GLM-4) each call is an assistant message whose
 *       {@code metadata} is the function name and whose content is the arguments text, after the message's own
 *       text, as GLM-4's openai_api_server.py builds them.</li>
 * </ul>
 * Invariant: arguments must be a JSON object text in both forms, so a conversation is refused alike whatever the
 * template.
 *
 * @param toolResultRole  {@code tool} or {@code observation}
 * @param nativeToolCalls the template renders {@code tool_calls}
 */
public record ToolTurns(String toolResultRole, boolean nativeToolCalls) {
  /** OpenAI's own forms: for a model without a chat template. */
  public static final ToolTurns OPENAI = new ToolTurns("tool", true);
  private static final String OBSERVATION = "<|observation|>";

  public ToolTurns {
    if (!"tool".equals(toolResultRole) && !"observation".equals(toolResultRole)) {
      throw new IllegalArgumentException("toolResultRole '" + toolResultRole + "' must be tool or observation");
    }
  }

  /** The forms of {@code template}; {@link #OPENAI} without one. */
  public static ToolTurns of(Optional<ChatTemplate> template) {
    if (template.isEmpty()) {
      return OPENAI;
    }
    ChatTemplate t = template.get();
    String role = rendersObservation(t, "tool") || !rendersObservation(t, "observation") ? "tool" : "observation";
    return new ToolTurns(role, t.rendersToolCalls());
  }

  private static boolean rendersObservation(ChatTemplate t, String role) {
    try {
      return t.render(ChatPrompt.of(List.of(ChatMessage.user("probe"), new ChatMessage(role, "result"))))
          .contains(OBSERVATION);
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** A tool's result; {@code callId} and {@code name} become the {@code tool_call_id} and {@code name} fields. */
  public ChatMessage toolResult(String content, Optional<String> callId, Optional<String> name) {
    Map<String, Object> fields = new LinkedHashMap<>();
    callId.ifPresent(id -> fields.put("tool_call_id", id));
    name.ifPresent(n -> fields.put("name", n));
    return new ChatMessage(toolResultRole, content, fields);
  }

  /**
   * An assistant turn of {@code text} (may be empty) and {@code calls}, as one or several messages.
   *
   * @throws IllegalArgumentException when a call's arguments are not a JSON object text (the message names the call)
   */
  public List<ChatMessage> assistantCalls(String text, List<ToolCall> calls) {
    List<Object> openAi = new ArrayList<>();
    List<ChatMessage> glm4 = new ArrayList<>();
    if (!text.isEmpty()) {
      glm4.add(ChatMessage.assistant(text));
    }
    for (ToolCall c : calls) {
      Map<String, Object> function = new LinkedHashMap<>();
      function.put("name", c.name());
      function.put("arguments", arguments(c));
      Map<String, Object> call = new LinkedHashMap<>();
      call.put("id", c.id());
      call.put("type", "function");
      call.put("function", function);
      openAi.add(call);
      String args = c.argumentsJson().isBlank() ? "{}" : c.argumentsJson();
      glm4.add(new ChatMessage("assistant", args, Map.of("metadata", c.name())));
    }
    if (calls.isEmpty()) {
      return List.of(ChatMessage.assistant(text));
    }
    return nativeToolCalls ? List.of(new ChatMessage("assistant", text, Map.of("tool_calls", openAi))) : glm4;
  }

  /** The arguments as an object; a blank text is a call without arguments ({@code {}}). */
  private static Map<String, Object> arguments(ToolCall c) {
    if (c.argumentsJson().isBlank()) {
      return new LinkedHashMap<>();
    }
    try {
      JsonElement e = JsonParser.parseString(c.argumentsJson());
      if (e.isJsonObject()) {
        return JsonValues.toMap(e.getAsJsonObject());
      }
    } catch (JsonParseException e) {
      // refused below, naming the call
    }
    throw new IllegalArgumentException("tool call " + c.id() + " (" + c.name() + ") arguments must be a JSON object, "
        + "got '" + c.argumentsJson() + "'");
  }
}

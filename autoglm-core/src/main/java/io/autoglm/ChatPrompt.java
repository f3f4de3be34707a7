package io.autoglm;

import io.autoglm.tokenizer.TextChecks;
import io.autoglm.tokenizer.JsonValues;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What a chat template renders: the conversation, the tools on offer, whether to open the assistant's turn, and
 * extra template variables such as {@code enable_thinking}.
 *
 * @param messages            at least one message
 * @param tools               tool (function) schemas, in the OpenAI shape; empty for none
 * @param addGenerationPrompt end with the assistant's opening marker
 * @param templateKwargs      extra template variables; must not redefine messages, tools or add_generation_prompt
 */
public record ChatPrompt(List<ChatMessage> messages, List<Map<String, Object>> tools, boolean addGenerationPrompt,
    Map<String, Object> templateKwargs) {
  private static final Set<String> RESERVED = Set.of("messages", "tools", "add_generation_prompt");

  public ChatPrompt {
    Objects.requireNonNull(messages, "messages");
    if (messages.isEmpty()) {
      throw new IllegalArgumentException("messages is empty: expected at least one message");
    }
    messages = List.copyOf(messages);
    tools = List.copyOf(Objects.requireNonNull(tools, "tools"));
    TextChecks.requireWellFormedDeep(tools, "tools");
    Objects.requireNonNull(templateKwargs, "templateKwargs");
    for (String key : templateKwargs.keySet()) {
      if (RESERVED.contains(key)) {
        throw new IllegalArgumentException("template kwarg '" + key + "' is reserved: expected a name other than "
            + "messages, tools, add_generation_prompt (set those through their own components)");
      }
    }
    TextChecks.requireWellFormedDeep(templateKwargs, "templateKwargs");
    templateKwargs = Collections.unmodifiableMap(new LinkedHashMap<>(templateKwargs));
  }

  /** A conversation with no tools and no extra variables that opens the assistant's turn. */
  public static ChatPrompt of(List<ChatMessage> messages) {
    return new ChatPrompt(messages, List.of(), true, Map.of());
  }

  /** This prompt with one more template variable, e.g. {@code withKwarg("enable_thinking", false)}. */
  public ChatPrompt withKwarg(String name, Object value) {
    Map<String, Object> more = new LinkedHashMap<>(templateKwargs);
    more.put(name, value);
    return new ChatPrompt(messages, tools, addGenerationPrompt, more);
  }

  /**
   * Reads a chat case, {@code {"messages": [...], "tools": [...] | null, "kwargs": {...}}}. The assistant's turn is
   * opened when kwargs say {@code add_generation_prompt}, else when the last message is not the assistant's.
   */
  public static ChatPrompt fromJson(String json) {
    JsonObject o;
    try {
      o = JsonParser.parseString(json).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("chat case is not a JSON object: " + e.getMessage(), e);
    }
    if (!o.has("messages") || !o.get("messages").isJsonArray()) {
      throw new IllegalArgumentException("chat case has no 'messages' array: expected {messages, tools, kwargs}");
    }
    List<ChatMessage> messages = new ArrayList<>();
    for (JsonElement m : o.getAsJsonArray("messages")) {
      messages.add(message(m, messages.size()));
    }
    List<Map<String, Object>> tools = new ArrayList<>();
    if (o.has("tools") && o.get("tools").isJsonArray()) {
      for (JsonElement t : o.getAsJsonArray("tools")) {
        tools.add(JsonValues.toMap(t.getAsJsonObject()));
      }
    }
    Map<String, Object> kwargs = o.has("kwargs") && o.get("kwargs").isJsonObject()
        ? JsonValues.toMap(o.getAsJsonObject("kwargs")) : new LinkedHashMap<>();
    Object add = kwargs.remove("add_generation_prompt");
    if (add == null && o.has("add_generation_prompt")) {
      add = o.get("add_generation_prompt").getAsBoolean();
    }
    boolean addPrompt = add != null ? Boolean.TRUE.equals(add)
        : messages.isEmpty() || !messages.get(messages.size() - 1).role().equals("assistant");
    return new ChatPrompt(messages, tools, addPrompt, kwargs);
  }

  private static ChatMessage message(JsonElement e, int index) {
    if (!e.isJsonObject()) {
      throw new IllegalArgumentException("message " + index + " is " + e + ": expected a JSON object");
    }
    Map<String, Object> fields = JsonValues.toMap(e.getAsJsonObject());
    Object role = fields.remove("role");
    ChatMessage.Content content = content(fields.remove("content"), index);
    return new ChatMessage(role instanceof String r ? r : String.valueOf(role), content, fields);
  }

  /**
   * A message's content: a string, a list of {@code {"type": "text", "text": ...}} parts, or null (taken as "", as
   * OpenAI-compatible servers take an assistant's tool-call turn without content). Other part types (image_url,
   * input_audio, ...) are rejected: no GLM text model reads them.
   */
  static ChatMessage.Content content(Object content, int messageIndex) {
    if (content == null || content instanceof String) {
      return ChatMessage.Content.text(content == null ? "" : (String) content);
    }
    if (!(content instanceof List<?> list)) {
      throw new IllegalArgumentException("message " + messageIndex + " content is " + content
          + ": expected a string or a list of text parts");
    }
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      String at = "message " + messageIndex + " content part " + i;
      if (!(list.get(i) instanceof Map<?, ?> part)) {
        throw new IllegalArgumentException(at + " is " + list.get(i)
            + ": expected {\"type\": \"text\", \"text\": ...}");
      }
      if (!"text".equals(part.get("type"))) {
        throw new IllegalArgumentException(at + " has type '" + part.get("type")
            + "': only 'text' parts are supported");
      }
      if (!(part.get("text") instanceof String text)) {
        throw new IllegalArgumentException(at + " text is " + part.get("text") + ": expected a string");
      }
      for (Object key : part.keySet()) {
        if (!"type".equals(key) && !"text".equals(key)) {
          throw new IllegalArgumentException(at + " has key '" + key + "': a text part has only 'type' and 'text'");
        }
      }
      texts.add(text);
    }
    return new ChatMessage.Content.Parts(texts);
  }
}

package io.autoglm.tokenizer;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One chat message as the chat template sees it: {@code role}, {@code content}, and any further fields the template
 * reads ({@code tool_calls}, {@code reasoning_content}, GLM-4's per-message {@code tools}, ...), in insertion order.
 *
 * @param role    system, user, assistant, observation or tool
 * @param content the message text; empty for an assistant turn that only calls tools
 * @param fields  further fields: strings, numbers, booleans, null, and lists and maps of those
 */
public record ChatMessage(String role, String content, Map<String, Object> fields) {
  /** The roles GLM templates know; {@code observation} (GLM-4) and {@code tool} (GLM-4.5) carry tool results. */
  public static final Set<String> ROLES = Set.of("system", "user", "assistant", "observation", "tool");

  public ChatMessage {
    if (role == null || !ROLES.contains(role)) {
      throw new IllegalArgumentException("message role '" + role + "' is unknown: expected one of "
          + "system, user, assistant, observation, tool");
    }
    Objects.requireNonNull(content, () -> role + " message content must not be null (use \"\" for none)");
    TextChecks.requireWellFormed(content, role + " message content");
    Objects.requireNonNull(fields, "fields");
    for (String reserved : new String[] {"role", "content"}) {
      if (fields.containsKey(reserved)) {
        throw new IllegalArgumentException("message field '" + reserved + "' must be given as the record component, "
            + "not in fields");
      }
    }
    TextChecks.requireWellFormedDeep(fields, role + " message");
    fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
  }

  public ChatMessage(String role, String content) {
    this(role, content, Map.of());
  }

  public static ChatMessage system(String content) {
    return new ChatMessage("system", content);
  }

  public static ChatMessage user(String content) {
    return new ChatMessage("user", content);
  }

  public static ChatMessage assistant(String content) {
    return new ChatMessage("assistant", content);
  }

  /** A tool result; GLM-4.5 templates call this role {@code tool}, GLM-4 templates {@code observation}. */
  public static ChatMessage tool(String content) {
    return new ChatMessage("tool", content);
  }

  /** This message with one more field, e.g. {@code withField("reasoning_content", "...")}. */
  public ChatMessage withField(String name, Object value) {
    Map<String, Object> more = new LinkedHashMap<>(fields);
    more.put(name, value);
    return new ChatMessage(role, content, more);
  }

  /** The template's view: role, content, then the fields. */
  Map<String, Object> toTemplateMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    m.putAll(fields);
    return m;
  }
}

package io.autoglm;

import io.autoglm.tokenizer.TextChecks;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One chat message as the chat template sees it: {@code role}, {@code content}, and any further fields the template
 * reads ({@code tool_calls}, {@code reasoning_content}, GLM-4's per-message {@code tools}, ...), in insertion order.
 *
 * @param role    system, user, assistant, observation or tool
 * @param content the message text, or a list of text parts; empty text for an assistant turn that only calls tools
 * @param fields  further fields: strings, numbers, booleans, null, and lists and maps of those
 */
public record ChatMessage(String role, Content content, Map<String, Object> fields) {
  /** The roles GLM templates know; {@code observation} (GLM-4) and {@code tool} (GLM-4.5) carry tool results. */
  public static final Set<String> ROLES = Set.of("system", "user", "assistant", "observation", "tool");

  public ChatMessage {
    if (role == null || !ROLES.contains(role)) {
      throw new IllegalArgumentException("message role '" + role + "' is unknown: expected one of "
          + "system, user, assistant, observation, tool");
    }
    Objects.requireNonNull(content, () -> role + " message content must not be null (use \"\" for none)");
    if (content instanceof Content.Parts p) {
      for (int i = 0; i < p.texts().size(); i++) {
        TextChecks.requireWellFormed(p.texts().get(i), role + " message content part " + i);
      }
    } else {
      TextChecks.requireWellFormed(content.joined(), role + " message content");
    }
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

  public ChatMessage(String role, String content, Map<String, Object> fields) {
    this(role, Content.text(content), fields);
  }

  public ChatMessage(String role, String content) {
    this(role, Content.text(content), Map.of());
  }

  public ChatMessage(String role, Content content) {
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

  /**
   * A message's content as the OpenAI chat API gives it: one string, or a list of text parts (checked for
   * well-formed UTF-16 when put in a message). Templates see the form that was given, as transformers passes it: the
   * string, or the list {@code [{"type": "text", "text": ...}, ...]} (GLM-4.5's template joins the parts;
   * glm-4-9b-chat's prints the list as Python prints a list).
   */
  public sealed interface Content permits Content.Text, Content.Parts {
    /** The text a reader sees: the string, or the parts joined with nothing between them. */
    String joined();

    static Content text(String text) {
      return new Text(text);
    }

    static Content parts(String... texts) {
      return new Parts(List.of(texts));
    }

    /** @param text the whole content */
    record Text(String text) implements Content {
      public Text {
        Objects.requireNonNull(text, "message content must not be null (use \"\" for none)");
      }

      @Override
      public String joined() {
        return text;
      }
    }

    /** @param texts the text of each part, in order; may be empty, as transformers allows */
    record Parts(List<String> texts) implements Content {
      public Parts {
        Objects.requireNonNull(texts, "content parts must not be null");
        for (int i = 0; i < texts.size(); i++) {
          Objects.requireNonNull(texts.get(i), "content part " + i + " text must not be null");
        }
        texts = List.copyOf(texts);
      }

      @Override
      public String joined() {
        return String.join("", texts);
      }
    }
  }
}

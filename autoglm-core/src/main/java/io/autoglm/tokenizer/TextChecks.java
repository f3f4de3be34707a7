package io.autoglm.tokenizer;

import java.util.List;
import java.util.Map;

/** Input checks shared by the tokenizer and the chat template: text must be well-formed UTF-16. */
public final class TextChecks {
  private TextChecks() {}

  /** Throws when {@code text} holds a high surrogate without its low half or a low one without its high half. */
  public static void requireWellFormed(String text, String what) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException(String.format(
            "%s has a lone UTF-16 surrogate U+%04X at index %d; expected well-formed text (surrogates only in pairs)",
            what, (int) c, i));
      }
    }
  }

  /** {@link #requireWellFormed} on every string, key and value, inside nested maps and lists. */
  public static void requireWellFormedDeep(Object value, String what) {
    if (value instanceof String s) {
      requireWellFormed(s, what);
    } else if (value instanceof Map<?, ?> map) {
      for (Map.Entry<?, ?> e : map.entrySet()) {
        String key = String.valueOf(e.getKey());
        requireWellFormed(key, what + " key");
        requireWellFormedDeep(e.getValue(), what + "." + key);
      }
    } else if (value instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        requireWellFormedDeep(list.get(i), what + "[" + i + "]");
      }
    }
  }
}

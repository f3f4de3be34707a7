package io.autoglm.tokenizer;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hides special-token text in user-supplied strings behind placeholders {@code U+E000 <index> U+E001} and finds it
 * again after rendering. U+E000 itself is hidden too, so every placeholder in the output is one of ours and the
 * mapping is reversible. Filters that escape text ({@code tojson}, Python's repr of a list) must escape the user's
 * text, not the placeholders: they find the codec under {@link #CONTEXT_KEY}, print the {@link #restoreDeep restored}
 * value and {@link #hide} the result again.
 */
final class PlaceholderCodec {
  /** The template-context key the codec travels under; no template can name it (U+E000 is no identifier char). */
  static final String CONTEXT_KEY = "\uE000placeholders";
  private static final char OPEN = '\uE000';
  private static final char CLOSE = '\uE001';

  private final List<String> specials; // longest first, so "<|user|>x" never loses to a shorter prefix
  private final List<String> hidden; // specials + the OPEN char itself; index = placeholder number

  PlaceholderCodec(Set<String> specialTokens) {
    this.specials = new ArrayList<>(specialTokens);
    specials.sort(Comparator.comparingInt(String::length).reversed());
    this.hidden = new ArrayList<>(specials);
    hidden.add(String.valueOf(OPEN));
  }

  /** {@code text} with every special token and U+E000 swapped for its placeholder. */
  String hide(String text) {
    StringBuilder sb = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); ) {
      int n = matchAt(hidden, text, i);
      if (n >= 0) {
        sb.append(OPEN).append(n).append(CLOSE);
        i += hidden.get(n).length();
      } else {
        sb.append(text.charAt(i++));
      }
    }
    return sb.toString();
  }

  /** {@code text} with every placeholder swapped back for the text it hides. */
  String restore(String text) {
    StringBuilder sb = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); ) {
      int placeholder = placeholderAt(text, i);
      if (placeholder >= 0) {
        sb.append(hidden.get(placeholder));
        i = text.indexOf(CLOSE, i) + 1;
      } else {
        sb.append(text.charAt(i++));
      }
    }
    return sb.toString();
  }

  /** A copy of {@code value} with {@link #restore} applied to every string, key and value, in maps and lists. */
  Object restoreDeep(Object value) {
    if (value instanceof String s) {
      return restore(s);
    }
    if (value instanceof Map<?, ?> map) {
      Map<Object, Object> copy = new LinkedHashMap<>();
      map.forEach((k, v) -> copy.put(restoreDeep(k), restoreDeep(v)));
      return copy;
    }
    if (value instanceof Collection<?> list) {
      List<Object> copy = new ArrayList<>();
      list.forEach(v -> copy.add(restoreDeep(v)));
      return copy;
    }
    return value;
  }

  /** Splits rendered output into the template's special tokens and plain text (placeholders restored). */
  List<ChatTemplate.Segment> segments(String rendered) {
    List<ChatTemplate.Segment> out = new ArrayList<>();
    StringBuilder plain = new StringBuilder();
    for (int i = 0; i < rendered.length(); ) {
      int placeholder = placeholderAt(rendered, i);
      int special = matchAt(specials, rendered, i);
      if (placeholder >= 0) {
        plain.append(hidden.get(placeholder));
        i = rendered.indexOf(CLOSE, i) + 1;
      } else if (special >= 0) {
        flush(plain, out);
        out.add(new ChatTemplate.Segment(specials.get(special), true));
        i += specials.get(special).length();
      } else {
        plain.append(rendered.charAt(i++));
      }
    }
    flush(plain, out);
    return out;
  }

  /** The index of the placeholder that starts at {@code at}, or -1 when none does. */
  private int placeholderAt(String text, int at) {
    if (text.charAt(at) != OPEN) {
      return -1;
    }
    for (int j = at + 1; j < Math.min(text.length(), at + 11); j++) { // at most 9 digits
      if (text.charAt(j) == CLOSE) {
        return j > at + 1 ? parseIndex(text.substring(at + 1, j)) : -1;
      }
    }
    return -1;
  }

  private int parseIndex(String digits) {
    if (digits.isEmpty() || digits.length() > 9 || !digits.chars().allMatch(Character::isDigit)) {
      return -1;
    }
    int n = Integer.parseInt(digits);
    return n < hidden.size() ? n : -1;
  }

  private static void flush(StringBuilder plain, List<ChatTemplate.Segment> out) {
    if (plain.length() > 0) {
      out.add(new ChatTemplate.Segment(plain.toString(), false));
      plain.setLength(0);
    }
  }

  private static int matchAt(List<String> candidates, String text, int at) {
    for (int n = 0; n < candidates.size(); n++) {
      if (text.startsWith(candidates.get(n), at)) {
        return n;
      }
    }
    return -1;
  }
}

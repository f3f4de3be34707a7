package io.autoglm.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Hides special-token text in user-supplied strings behind placeholders {@code U+E000 <index> U+E001} and finds it
 * again after rendering. U+E000 itself is hidden too, so every placeholder in the output is one of ours and the
 * mapping is reversible.
 */
final class PlaceholderCodec {
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

  /** Splits rendered output into the template's special tokens and plain text (placeholders restored). */
  List<ChatTemplate.Segment> segments(String rendered) {
    List<ChatTemplate.Segment> out = new ArrayList<>();
    StringBuilder plain = new StringBuilder();
    for (int i = 0; i < rendered.length(); ) {
      int close = rendered.charAt(i) == OPEN ? rendered.indexOf(CLOSE, i) : -1;
      int placeholder = close > i + 1 ? parseIndex(rendered.substring(i + 1, close)) : -1;
      int special = matchAt(specials, rendered, i);
      if (placeholder >= 0) {
        plain.append(hidden.get(placeholder));
        i = close + 1;
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

package io.autoglm.tokenizer;

import java.math.BigDecimal;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;

/**
 * Python's {@code repr()} of the values a chat template sees, which is what Python's Jinja prints for a list or a
 * dict ({@code {{ message.content }}} when the content is a list of parts): {@code [{'type': 'text', 'text': 'a'}]}.
 * Strings are quoted and escaped as CPython's {@code unicode_repr} does: single quotes unless the text holds a
 * single quote and no double quote; {@code \t \n \r} and backslash escaped; other C0 controls and DEL as
 * {@code \xNN}; non-ASCII kept when Python's {@code str.isprintable} holds for it, else {@code \xNN},
 * <code>&#92;uNNNN</code> or <code>&#92;UNNNNNNNN</code>. Printability follows Java's Unicode tables, which may lag
 * Python's for characters assigned in the newest Unicode versions.
 */
final class PythonRepr {
  private PythonRepr() {}

  static String repr(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value);
    return sb.toString();
  }

  /** {@code str()} of a float: Python's shortest round-trip repr, with {@code inf} and {@code nan}. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) {
      return "nan";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    return PythonJson.floatRepr(d);
  }

  private static void write(StringBuilder sb, Object v) {
    if (v == null) {
      sb.append("None");
    } else if (v instanceof Boolean b) {
      sb.append(b ? "True" : "False");
    } else if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) {
      sb.append(floatRepr(((Number) v).doubleValue()));
    } else if (v instanceof Number n) {
      sb.append(n);
    } else if (v instanceof CharSequence s) {
      writeString(sb, s.toString());
    } else if (v instanceof Map<?, ?> map) {
      sb.append('{');
      String sep = "";
      for (Map.Entry<?, ?> e : map.entrySet()) {
        sb.append(sep);
        write(sb, e.getKey());
        sb.append(": ");
        write(sb, e.getValue());
        sep = ", ";
      }
      sb.append('}');
    } else if (v instanceof Collection<?> c) {
      writeItems(sb, c.toArray());
    } else if (v instanceof Object[] array) {
      writeItems(sb, array);
    } else {
      sb.append(v);
    }
  }

  private static void writeItems(StringBuilder sb, Object[] items) {
    sb.append('[');
    for (int i = 0; i < items.length; i++) {
      if (i > 0) {
        sb.append(", ");
      }
      write(sb, items[i]);
    }
    sb.append(']');
  }

  private static void writeString(StringBuilder sb, String s) {
    char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    sb.append(quote);
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == quote || cp == '\\') {
        sb.append('\\').append((char) cp);
      } else if (cp == '\t') {
        sb.append("\\t");
      } else if (cp == '\n') {
        sb.append("\\n");
      } else if (cp == '\r') {
        sb.append("\\r");
      } else if (cp < 0x20 || cp == 0x7F) {
        sb.append(String.format(Locale.ROOT, "\\x%02x", cp));
      } else if (cp < 0x7F || isPrintable(cp)) {
        sb.appendCodePoint(cp);
      } else if (cp <= 0xFF) {
        sb.append(String.format(Locale.ROOT, "\\x%02x", cp));
      } else if (cp <= 0xFFFF) {
        sb.append(String.format(Locale.ROOT, "\\u%04x", cp));
      } else {
        sb.append(String.format(Locale.ROOT, "\\U%08x", cp));
      }
    }
    sb.append(quote);
  }

  /** Python's {@code str.isprintable} for one non-ASCII code point: not in Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs. */
  private static boolean isPrintable(int cp) {
    switch (Character.getType(cp)) {
      case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
          Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> {
        return false;
      }
      default -> {
        return true;
      }
    }
  }
}

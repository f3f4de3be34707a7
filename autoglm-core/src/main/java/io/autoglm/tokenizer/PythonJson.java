package io.autoglm.tokenizer;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} byte for byte, as transformers' chat-template {@code tojson} calls it: separators
 * {@code ", "}/{@code ": "} ({@code ","} between items when indenting), key order kept, non-ASCII kept unless
 * {@code ensure_ascii}, floats in Python's repr ({@code 1e-07}, {@code 1.0}).
 *
 * @param indent   null for one line, else the string put once per nesting level
 * @param itemSep  between items
 * @param keySep   between a key and its value
 */
record PythonJson(String indent, String itemSep, String keySep, boolean ensureAscii, boolean sortKeys) {

  /** transformers' defaults: {@code json.dumps(x, ensure_ascii=False)}. */
  static PythonJson defaults() {
    return new PythonJson(null, ", ", ": ", false, false);
  }

  String dumps(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 0);
    return sb.toString();
  }

  private void write(StringBuilder sb, Object v, int depth) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof Boolean b) {
      sb.append(b ? "true" : "false");
    } else if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) {
      sb.append(floatRepr(((Number) v).doubleValue()));
    } else if (v instanceof Number n) {
      sb.append(n);
    } else if (v instanceof Map<?, ?> map) {
      writeMap(sb, map, depth);
    } else if (v instanceof Collection<?> c) {
      writeItems(sb, new ArrayList<>(c), depth, '[', ']', null);
    } else if (v instanceof Object[] array) {
      writeItems(sb, List.of(array), depth, '[', ']', null);
    } else {
      writeString(sb, v.toString());
    }
  }

  private void writeMap(StringBuilder sb, Map<?, ?> map, int depth) {
    List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
    if (sortKeys) {
      entries.sort((a, b) -> String.valueOf(a.getKey()).compareTo(String.valueOf(b.getKey())));
    }
    writeItems(sb, entries, depth, '{', '}', map);
  }

  private void writeItems(StringBuilder sb, List<?> items, int depth, char open, char close, Map<?, ?> map) {
    sb.append(open);
    if (items.isEmpty()) {
      sb.append(close);
      return;
    }
    for (int i = 0; i < items.size(); i++) {
      if (i > 0) {
        sb.append(itemSep);
      }
      newline(sb, depth + 1);
      Object item = items.get(i);
      if (map != null) {
        Map.Entry<?, ?> e = (Map.Entry<?, ?>) item;
        writeKey(sb, e.getKey());
        sb.append(keySep);
        write(sb, e.getValue(), depth + 1);
      } else {
        write(sb, item, depth + 1);
      }
    }
    newline(sb, depth);
    sb.append(close);
  }

  /** Python turns non-string keys into their JSON text: True → "true", 1 → "1". */
  private void writeKey(StringBuilder sb, Object key) {
    if (key instanceof String s) {
      writeString(sb, s);
    } else {
      StringBuilder k = new StringBuilder();
      write(k, key, 0);
      writeString(sb, k.toString());
    }
  }

  private void newline(StringBuilder sb, int depth) {
    if (indent != null) {
      sb.append('\n').append(indent.repeat(depth));
    }
  }

  private void writeString(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20 || (ensureAscii && c > 0x7E)) {
            sb.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  /** Python's {@code repr(float)}: shortest round-trip digits, fixed notation for exponents -4..15. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "Infinity" : "-Infinity";
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0.0" : "0.0";
    }
    BigDecimal shortest = shortest(d);
    String digits = shortest.unscaledValue().abs().toString().replaceAll("0+$", "");
    if (digits.isEmpty()) {
      digits = "0";
    }
    int exp = shortest.precision() - shortest.scale() - 1; // decimal exponent of the first digit
    String sign = d < 0 ? "-" : "";
    if (exp >= -4 && exp < 16) {
      String plain = new BigDecimal(digits).movePointLeft(digits.length() - 1 - exp).toPlainString();
      return sign + (plain.contains(".") ? plain : plain + ".0");
    }
    String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
    return String.format(java.util.Locale.ROOT, "%s%se%s%02d", sign, mantissa, exp < 0 ? "-" : "+", Math.abs(exp));
  }

  private static BigDecimal shortest(double d) {
    for (int p = 1; p <= 17; p++) {
      BigDecimal candidate = new BigDecimal(String.format(java.util.Locale.ROOT, "%." + (p - 1) + "e", Math.abs(d)));
      if (candidate.doubleValue() == Math.abs(d)) {
        return candidate;
      }
    }
    return new BigDecimal(Math.abs(d));
  }
}

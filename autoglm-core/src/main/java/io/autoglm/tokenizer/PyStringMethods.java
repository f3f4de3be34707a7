package io.autoglm.tokenizer;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.objects.SafeString;
import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's str methods for chat templates ({@code content.endswith("/nothink")}, {@code .split('</think>')[-1]},
 * {@code .rstrip('\n')}), which Jinja inherits from Python and Java strings lack or spell differently. Resolves only
 * method calls on strings; everything else falls through to Jinjava's resolvers.
 */
final class PyStringMethods extends ELResolver {

  @Override
  public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
    if (!(base instanceof String || base instanceof SafeString) || method == null) {
      return null;
    }
    Object[] args = params == null ? new Object[0] : params;
    PlaceholderCodec codec = currentCodec();
    Object result = codec == null ? call(base.toString(), method.toString(), args)
        : hide(codec, call(codec.restore(base.toString()), method.toString(), restore(codec, args)));
    if (result != NOT_HANDLED) {
      context.setPropertyResolved(true);
      return result;
    }
    return null;
  }

  /**
   * The codec hiding special tokens in this render, if any: methods then run on the user's text, so
   * {@code content.endswith("/nothink")} sees "/nothink" where a placeholder stands, and their string results are
   * hidden again.
   */
  private static PlaceholderCodec currentCodec() {
    JinjavaInterpreter interpreter = JinjavaInterpreter.getCurrent();
    return interpreter != null && interpreter.getContext().get(PlaceholderCodec.CONTEXT_KEY) instanceof
        PlaceholderCodec codec ? codec : null;
  }

  private static Object[] restore(PlaceholderCodec codec, Object[] args) {
    Object[] out = args.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] = codec.restoreDeep(out[i]);
    }
    return out;
  }

  private static Object hide(PlaceholderCodec codec, Object result) {
    if (result instanceof String s) {
      return codec.hide(s);
    }
    if (result instanceof List<?> list) {
      List<Object> out = new ArrayList<>();
      list.forEach(x -> out.add(x instanceof String s ? codec.hide(s) : x));
      return out;
    }
    return result;
  }

  private static final Object NOT_HANDLED = new Object();

  static Object call(String s, String method, Object[] a) {
    switch (method) {
      case "strip": return rstrip(lstrip(s, arg(a, 0)), arg(a, 0));
      case "lstrip": return lstrip(s, arg(a, 0));
      case "rstrip": return rstrip(s, arg(a, 0));
      case "split": return split(s, arg(a, 0), a.length > 1 ? ((Number) a[1]).intValue() : -1);
      case "startswith": return anyMatch(a[0], p -> s.startsWith(p));
      case "endswith": return anyMatch(a[0], p -> s.endsWith(p));
      case "upper": return s.toUpperCase(Locale.ROOT);
      case "lower": return s.toLowerCase(Locale.ROOT);
      case "find": return (long) s.indexOf(a[0].toString());
      case "count": return (long) count(s, a[0].toString());
      case "join": return join(s, a[0]);
      case "replace": return a.length > 2 ? replace(s, a[0].toString(), a[1].toString(), ((Number) a[2]).intValue())
          : s.replace(a[0].toString(), a[1].toString());
      case "splitlines": return s.lines().collect(java.util.stream.Collectors.toList());
      case "title": return title(s);
      case "capitalize": return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT)
          + s.substring(1).toLowerCase(Locale.ROOT);
      default: return NOT_HANDLED;
    }
  }

  private static String arg(Object[] a, int i) {
    return a.length > i && a[i] != null ? a[i].toString() : null;
  }

  /** Python's str.isspace for one char. */
  static boolean isSpace(char c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
  }

  private static boolean strippable(char c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
  }

  static String lstrip(String s, String chars) {
    int i = 0;
    while (i < s.length() && strippable(s.charAt(i), chars)) {
      i++;
    }
    return s.substring(i);
  }

  static String rstrip(String s, String chars) {
    int i = s.length();
    while (i > 0 && strippable(s.charAt(i - 1), chars)) {
      i--;
    }
    return s.substring(0, i);
  }

  /** Python's split: with a separator keeps empty parts; without one splits on whitespace runs. */
  static List<String> split(String s, String sep, int maxSplit) {
    List<String> parts = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      while (true) {
        while (i < s.length() && isSpace(s.charAt(i))) {
          i++;
        }
        if (i >= s.length()) {
          return parts;
        }
        if (maxSplit >= 0 && parts.size() == maxSplit) {
          parts.add(rstrip(s.substring(i), null));
          return parts;
        }
        int j = i;
        while (j < s.length() && !isSpace(s.charAt(j))) {
          j++;
        }
        parts.add(s.substring(i, j));
        i = j;
      }
    }
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("split separator is empty: expected a non-empty string (Python: ValueError)");
    }
    int from = 0;
    int at;
    while ((maxSplit < 0 || parts.size() < maxSplit) && (at = s.indexOf(sep, from)) >= 0) {
      parts.add(s.substring(from, at));
      from = at + sep.length();
    }
    parts.add(s.substring(from));
    return parts;
  }

  private static boolean anyMatch(Object prefixes, java.util.function.Predicate<String> test) {
    if (prefixes instanceof Collection<?> c) {
      return c.stream().anyMatch(p -> test.test(p.toString()));
    }
    return test.test(prefixes.toString());
  }

  private static int count(String s, String sub) {
    if (sub.isEmpty()) {
      return s.length() + 1;
    }
    int n = 0;
    for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
      n++;
    }
    return n;
  }

  private static String join(String sep, Object items) {
    StringBuilder sb = new StringBuilder();
    Iterator<?> it = items instanceof Iterable<?> iterable ? iterable.iterator() : List.of(items).iterator();
    while (it.hasNext()) {
      sb.append(it.next());
      if (it.hasNext()) {
        sb.append(sep);
      }
    }
    return sb.toString();
  }

  private static String replace(String s, String old, String with, int count) {
    StringBuilder sb = new StringBuilder();
    int from = 0;
    int at;
    for (int n = 0; (count < 0 || n < count) && (at = s.indexOf(old, from)) >= 0 && !old.isEmpty(); n++) {
      sb.append(s, from, at).append(with);
      from = at + old.length();
    }
    return sb.append(s.substring(from)).toString();
  }

  private static String title(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    boolean prevCased = false;
    for (char c : s.toCharArray()) {
      sb.append(prevCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
      prevCased = Character.isLetter(c);
    }
    return sb.toString();
  }

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}

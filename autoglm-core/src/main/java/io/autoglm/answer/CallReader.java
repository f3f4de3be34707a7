package io.autoglm.answer;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads one call's text in either GLM syntax into a name and an arguments JSON object. "Can't" is an empty result:
 * the caller then keeps the text as text. Only whitespace may sit between the XML elements of a GLM-4.5 call.
 */
final class CallReader {
  static final String KEY_OPEN = "<arg_key>";
  static final String KEY_CLOSE = "</arg_key>";
  static final String VALUE_OPEN = "<arg_value>";
  static final String VALUE_CLOSE = "</arg_value>";
  /** No HTML escaping: {@code <} in an argument stays {@code <}, as Python's json.dumps writes it. */
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  /** A call's name and arguments, before it gets an id. */
  record Call(String name, String argumentsJson) {}

  private CallReader() {}

  /**
   * The body of {@code <tool_call>BODY</tool_call>}: the name up to the first newline (or the first
   * {@code <arg_key>}), then key/value pairs. A string parameter's value is kept exactly as written (the template
   * writes strings raw); any other value is read as strict JSON, else kept as a string (vLLM's rule, without its
   * Python-literal fallback). A key given twice keeps its last value.
   */
  static Optional<Call> readXml(String body, List<Map<String, Object>> tools) {
    int nl = body.indexOf('\n');
    int key = body.indexOf(KEY_OPEN);
    int nameEnd = nl < 0 ? (key < 0 ? body.length() : key) : (key < 0 ? nl : Math.min(nl, key));
    String name = body.substring(0, nameEnd).strip();
    if (name.isEmpty() || name.chars().anyMatch(c -> Character.isWhitespace(c) || c == '<' || c == '>')) {
      return Optional.empty();
    }
    Map<String, JsonElement> args = new LinkedHashMap<>();
    int at = nameEnd;
    while (true) {
      at = skipWhitespace(body, at);
      if (at == body.length()) {
        return Optional.of(new Call(name, objectJson(args)));
      }
      if (!body.startsWith(KEY_OPEN, at)) {
        return Optional.empty();
      }
      int keyEnd = body.indexOf(KEY_CLOSE, at);
      if (keyEnd < 0) {
        return Optional.empty();
      }
      String k = body.substring(at + KEY_OPEN.length(), keyEnd).strip();
      at = skipWhitespace(body, keyEnd + KEY_CLOSE.length());
      if (k.isEmpty() || k.contains("<") || !body.startsWith(VALUE_OPEN, at)) {
        return Optional.empty();
      }
      int valueEnd = body.indexOf(VALUE_CLOSE, at);
      if (valueEnd < 0) {
        return Optional.empty();
      }
      String v = body.substring(at + VALUE_OPEN.length(), valueEnd);
      args.remove(k);
      args.put(k, ToolSchemas.isString(tools, name, k) ? new JsonPrimitive(v)
          : strictJson(v.strip()).orElseGet(() -> new JsonPrimitive(v)));
      at = valueEnd + VALUE_CLOSE.length();
    }
  }

  /**
   * A whole GLM-4 answer: one or more {@code NAME\n{JSON object}} with NAME one of {@code names}; the arguments
   * are the model's own JSON text. Empty unless the whole answer is such calls.
   */
  static Optional<List<Call>> readGlm4(String answer, Set<String> names) {
    List<Call> calls = new ArrayList<>();
    int at = skipWhitespace(answer, 0);
    while (at < answer.length()) {
      int nl = answer.indexOf('\n', at);
      if (nl < 0 || !names.contains(answer.substring(at, nl).strip())) {
        return Optional.empty();
      }
      String name = answer.substring(at, nl).strip();
      int start = skipWhitespace(answer, nl + 1);
      int end = objectEnd(answer, start);
      if (end < 0) {
        return Optional.empty();
      }
      String json = answer.substring(start, end);
      if (strictJson(json).filter(JsonElement::isJsonObject).isEmpty()) {
        return Optional.empty();
      }
      calls.add(new Call(name, json));
      at = skipWhitespace(answer, end);
    }
    return calls.isEmpty() ? Optional.empty() : Optional.of(calls);
  }

  /** {@code {"k": v, ...}} with Python json.dumps' separators. */
  private static String objectJson(Map<String, JsonElement> args) {
    StringBuilder sb = new StringBuilder("{");
    for (Map.Entry<String, JsonElement> e : args.entrySet()) {
      if (sb.length() > 1) {
        sb.append(", ");
      }
      sb.append(GSON.toJson(e.getKey())).append(": ").append(GSON.toJson(e.getValue()));
    }
    return sb.append('}').toString();
  }

  /** One strict JSON value (RFC 8259: no comments, no NaN, no unquoted strings) filling all of {@code s}. */
  static Optional<JsonElement> strictJson(String s) {
    try (JsonReader r = new JsonReader(new StringReader(s))) {
      r.setStrictness(Strictness.STRICT);
      JsonElement e = GSON.getAdapter(JsonElement.class).read(r);
      return r.peek() == JsonToken.END_DOCUMENT ? Optional.of(e) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The index after the JSON object starting at {@code start}, by brace depth outside strings; -1 if none. */
  private static int objectEnd(String s, int start) {
    if (start >= s.length() || s.charAt(start) != '{') {
      return -1;
    }
    int depth = 0;
    boolean inString = false;
    for (int i = start; i < s.length(); i++) {
      char c = s.charAt(i);
      if (inString) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          inString = false;
        }
      } else if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return -1;
  }

  static int skipWhitespace(String s, int at) {
    while (at < s.length() && Character.isWhitespace(s.charAt(at))) {
      at++;
    }
    return at;
  }
}

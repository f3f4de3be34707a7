package io.autoglm.safetensors;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Parses the JSON header of a safetensors file with the rules of the reference (Rust) safetensors library: one JSON
 * object (RFC 8259; only whitespace after it) whose values are tensor entries {@code {"dtype", "shape",
 * "data_offsets"}}, plus at most one {@code __metadata__} that is null or an object of strings. Shapes and offsets
 * are non-negative integer literals (not strings, fractions or exponents); {@code data_offsets} has exactly two.
 * Unknown fields inside an entry are skipped, as the reference does. A key given twice, at either level, is an error
 * (the reference would silently keep one of the two). Byte counts and the coverage of the data section are checked by
 * {@link SafetensorsFile}, which knows the file size.
 */
final class HeaderParser {
  private static final Pattern NON_NEGATIVE_INTEGER = Pattern.compile("0|[1-9][0-9]*");
  private static final String LONG_MAX = Long.toString(Long.MAX_VALUE);

  /** One header entry as written; {@code [start, end)} is relative to the start of the data section. */
  record Tensor(String name, DType dtype, long[] shape, long start, long end) {}

  /** The header's tensors in the order written, and its metadata. */
  record Header(List<Tensor> tensors, Map<String, String> metadata) {}

  private final JsonReader in;
  private final String where;

  private HeaderParser(String json, String where) {
    this.in = new JsonReader(new StringReader(json));
    this.in.setStrictness(Strictness.STRICT);
    this.where = where;
  }

  /** Parses {@code json}; {@code where} starts every error message ("safetensors file /m/x.safetensors"). */
  static Header parse(String json, String where) {
    HeaderParser p = new HeaderParser(json, where);
    try {
      return p.header();
    } catch (IOException e) {
      throw new ModelLoadException(where + ": header is not valid JSON: " + e.getMessage(), e);
    }
  }

  private Header header() throws IOException {
    if (in.peek() != JsonToken.BEGIN_OBJECT) {
      throw fail(where + ": header must be a JSON object of tensor entries, got " + describeNext());
    }
    in.beginObject();
    Set<String> seen = new HashSet<>();
    List<Tensor> tensors = new ArrayList<>();
    Map<String, String> metadata = Map.of();
    while (in.hasNext()) {
      String name = checkedString(in.nextName(), "a tensor name");
      if (!seen.add(name)) {
        throw fail(where + ": " + (name.equals("__metadata__") ? "__metadata__" : "tensor " + name)
            + " appears twice in the header");
      }
      if (name.equals("__metadata__")) {
        metadata = metadata();
      } else {
        tensors.add(entry(name));
      }
    }
    in.endObject();
    if (in.peek() != JsonToken.END_DOCUMENT) {
      throw fail(where + ": header has more after its JSON object, at " + in.getPath());
    }
    return new Header(Collections.unmodifiableList(tensors), metadata);
  }

  private Tensor entry(String name) throws IOException {
    String at = where + ", tensor " + name;
    if (in.peek() != JsonToken.BEGIN_OBJECT) {
      throw fail(at + ": header entry must be an object {dtype, shape, data_offsets}, got " + describeNext());
    }
    in.beginObject();
    Set<String> fields = new HashSet<>();
    String dtypeName = null;
    long[] shape = null;
    long[] offsets = null;
    while (in.hasNext()) {
      String field = in.nextName();
      if (!fields.add(field)) {
        throw fail(at + ": field " + field + " appears twice");
      }
      switch (field) {
        case "dtype" -> dtypeName = string(at, "dtype");
        case "shape" -> shape = integers(at, "shape");
        case "data_offsets" -> offsets = integers(at, "data_offsets");
        default -> in.skipValue();
      }
    }
    in.endObject();
    List<String> missing = new ArrayList<>();
    for (String f : List.of("dtype", "shape", "data_offsets")) {
      if (!fields.contains(f)) {
        missing.add(f);
      }
    }
    if (!missing.isEmpty()) {
      throw fail(at + ": header entry needs dtype, shape and data_offsets; missing " + missing);
    }
    if (offsets.length != 2) {
      throw fail(at + ": data_offsets must be [start, end], got " + Arrays.toString(offsets));
    }
    String d = dtypeName;
    DType dtype = DType.fromHeader(d).orElseThrow(() -> fail(
        at + ": dtype " + d + " is not supported (" + Arrays.toString(DType.values()) + ")"));
    return new Tensor(name, dtype, shape, offsets[0], offsets[1]);
  }

  private Map<String, String> metadata() throws IOException {
    if (in.peek() == JsonToken.NULL) {
      in.nextNull();
      return Map.of();
    }
    if (in.peek() != JsonToken.BEGIN_OBJECT) {
      throw fail(where + ": __metadata__ must be an object of strings or null, got " + describeNext());
    }
    Map<String, String> out = new LinkedHashMap<>();
    in.beginObject();
    while (in.hasNext()) {
      String key = checkedString(in.nextName(), "a __metadata__ key");
      if (out.containsKey(key)) {
        throw fail(where + ": __metadata__ key " + key + " appears twice");
      }
      out.put(key, string(where, "__metadata__." + key));
    }
    in.endObject();
    return Collections.unmodifiableMap(out);
  }

  private String string(String at, String field) throws IOException {
    if (in.peek() != JsonToken.STRING) {
      throw fail(at + ": " + field + " must be a string, got " + describeNext());
    }
    return checkedString(in.nextString(), field);
  }

  private long[] integers(String at, String field) throws IOException {
    if (in.peek() != JsonToken.BEGIN_ARRAY) {
      throw fail(at + ": " + field + " must be an array of non-negative integers, got " + describeNext());
    }
    in.beginArray();
    long[] out = new long[4];
    int n = 0;
    while (in.hasNext()) {
      String item = field + "[" + n + "]";
      if (in.peek() != JsonToken.NUMBER) {
        throw fail(at + ": " + item + " must be a non-negative integer, got " + describeNext());
      }
      if (n == out.length) {
        out = Arrays.copyOf(out, 2 * n);
      }
      out[n++] = nonNegativeInteger(at, item, in.nextString());
    }
    in.endArray();
    return Arrays.copyOf(out, n);
  }

  private long nonNegativeInteger(String at, String item, String literal) {
    if (!NON_NEGATIVE_INTEGER.matcher(literal).matches()) {
      throw fail(at + ": " + item + " (" + literal + ") must be a non-negative integer");
    }
    if (literal.length() > LONG_MAX.length()
        || literal.length() == LONG_MAX.length() && literal.compareTo(LONG_MAX) > 0) {
      throw fail(at + ": " + item + " (" + literal + ") exceeds " + LONG_MAX);
    }
    return Long.parseLong(literal);
  }

  /** Rejects strings that are not valid Unicode (an unpaired surrogate from a {@code \\uD800} escape). */
  private String checkedString(String s, String what) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw fail(where + ": " + what + " holds an unpaired surrogate \\u" + Integer.toHexString(c)
            + " at char " + i + ", so it is not valid Unicode");
      }
    }
    return s;
  }

  /** Consumes the next value and says what it was, for an error message. */
  private String describeNext() throws IOException {
    JsonToken t = in.peek();
    switch (t) {
      case STRING -> {
        return quote(in.nextString());
      }
      case NUMBER -> {
        return in.nextString();
      }
      case BOOLEAN -> {
        return Boolean.toString(in.nextBoolean());
      }
      case NULL -> {
        in.nextNull();
        return "null";
      }
      case BEGIN_ARRAY -> {
        return "an array";
      }
      case BEGIN_OBJECT -> {
        return "an object";
      }
      default -> {
        return t.toString();
      }
    }
  }

  /** A string value for a message: quoted, and cut after 60 chars with its length said. */
  static String quote(String s) {
    String shown = s.length() <= 60 ? s : s.substring(0, 60) + "…";
    return "\"" + shown + "\"" + (s.length() <= 60 ? "" : " (" + s.length() + " chars)");
  }

  private static ModelLoadException fail(String message) {
    return new ModelLoadException(message);
  }
}

package io.autoglm.grammar;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/** Reads a schema's keyword values with their expected JSON types; every error names the keyword and where it is. */
final class SchemaFields {
  static final List<String> TYPES = List.of("object", "array", "string", "integer", "number", "boolean", "null");

  private SchemaFields() {}

  /** The JSON Schema type of a value (integer for a number without fraction). */
  static String jsonType(JsonElement v) {
    if (v.isJsonNull()) {
      return "null";
    }
    if (v.isJsonObject()) {
      return "object";
    }
    if (v.isJsonArray()) {
      return "array";
    }
    JsonPrimitive p = v.getAsJsonPrimitive();
    if (p.isBoolean()) {
      return "boolean";
    }
    if (p.isString()) {
      return "string";
    }
    return p.getAsBigDecimal().stripTrailingZeros().scale() <= 0 ? "integer" : "number";
  }

  static List<String> types(JsonObject s, String at) {
    if (!s.has("type")) {
      return List.of();
    }
    JsonElement t = s.get("type");
    List<String> out = new ArrayList<>();
    if (t.isJsonArray()) {
      t.getAsJsonArray().forEach(e -> out.add(e.getAsString()));
    } else {
      out.add(text(s, "type", at));
    }
    for (String type : out) {
      if (!TYPES.contains(type)) {
        throw new IllegalArgumentException(at + ": type '" + type + "' is not a JSON Schema type " + TYPES);
      }
    }
    return out;
  }

  static void only(JsonObject s, String at, String keyword, String... also) {
    for (String key : s.keySet()) {
      if (!key.equals(keyword) && !SchemaCompiler.ANNOTATIONS.contains(key) && !List.of(also).contains(key)) {
        throw new IllegalArgumentException(at + ": keyword '" + key + "' next to '" + keyword
            + "' is not supported (put it inside the " + keyword + " target)");
      }
    }
  }

  static int count(JsonObject s, String key, int absent, String at) {
    if (!s.has(key)) {
      return absent;
    }
    JsonElement e = s.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()
        || e.getAsBigDecimal().stripTrailingZeros().scale() > 0 || e.getAsBigDecimal().signum() < 0
        || e.getAsBigDecimal().compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException(at + ": " + key + " (" + e + ") must be an integer >= 0");
    }
    return e.getAsInt();
  }

  static BigDecimal decimal(JsonObject s, String key, String at) {
    if (!s.has(key)) {
      return null;
    }
    JsonElement e = s.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IllegalArgumentException(at + ": " + key + " (" + e + ") must be a number");
    }
    return e.getAsBigDecimal();
  }

  static boolean bool(JsonObject s, String key, String at) {
    JsonElement e = s.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
      throw new IllegalArgumentException(at + ": " + key + " (" + e + ") must be true or false");
    }
    return e.getAsBoolean();
  }

  static String text(JsonObject s, String key, String at) {
    JsonElement e = s.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new IllegalArgumentException(at + ": " + key + " (" + e + ") must be a string");
    }
    return e.getAsString();
  }

  static JsonArray array(JsonObject s, String key, String at) {
    JsonElement e = s.get(key);
    if (!e.isJsonArray()) {
      throw new IllegalArgumentException(at + ": " + key + " (" + e + ") must be an array");
    }
    return e.getAsJsonArray();
  }

  static JsonObject object(JsonObject s, String key, String at) {
    JsonElement e = s.get(key);
    if (!e.isJsonObject()) {
      throw new IllegalArgumentException(at + ": " + key + " (" + e + ") must be an object");
    }
    return e.getAsJsonObject();
  }
}

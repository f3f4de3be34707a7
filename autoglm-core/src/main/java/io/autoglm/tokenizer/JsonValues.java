package io.autoglm.tokenizer;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON → plain Java values as Python's {@code json.loads} would give them: objects keep their key order, integers
 * stay integers ({@code 1} is a Long, {@code 1.0} a Double), so templates dump them back unchanged.
 */
public final class JsonValues {
  private JsonValues() {}

  public static Object toJava(JsonElement e) {
    if (e == null || e.isJsonNull()) {
      return null;
    }
    if (e.isJsonObject()) {
      return toMap(e.getAsJsonObject());
    }
    if (e.isJsonArray()) {
      List<Object> list = new ArrayList<>();
      e.getAsJsonArray().forEach(x -> list.add(toJava(x)));
      return list;
    }
    JsonPrimitive p = e.getAsJsonPrimitive();
    if (p.isBoolean()) {
      return p.getAsBoolean();
    }
    if (p.isString()) {
      return p.getAsString();
    }
    String literal = p.getAsNumber().toString();
    if (literal.contains(".") || literal.contains("e") || literal.contains("E")) {
      return Double.parseDouble(literal);
    }
    BigInteger big = new BigInteger(literal);
    return big.bitLength() < 64 ? (Object) big.longValue() : big;
  }

  public static Map<String, Object> toMap(JsonObject o) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (Map.Entry<String, JsonElement> entry : o.entrySet()) {
      map.put(entry.getKey(), toJava(entry.getValue()));
    }
    return map;
  }
}

package io.autoglm.spring;

import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * Typed, checked reads of one JSON object's fields. A JSON null reads as absent (OpenAI accepts null for any
 * optional field); a wrong type or a value out of range is a 400 naming the field, as {@code prefix + name}.
 */
final class JsonFields {
  private final JsonNode node;
  private final String prefix;

  JsonFields(JsonNode node, String prefix) {
    this.node = node;
    this.prefix = prefix;
  }

  String param(String name) {
    return prefix + name;
  }

  /** Rejects the first field not in {@code known}: a field we do not support is never silently ignored. */
  void requireKnown(Set<String> known, String what) {
    for (String name : node.propertyNames()) {
      if (!known.contains(name)) {
        throw OpenAiException.unsupported(param(name),
            "Unsupported parameter: '" + param(name) + "' is not supported by " + what);
      }
    }
  }

  Optional<JsonNode> get(String name) {
    JsonNode v = node.get(name);
    return v == null || v.isNull() ? Optional.empty() : Optional.of(v);
  }

  Optional<String> string(String name) {
    Optional<JsonNode> v = get(name);
    if (v.isPresent() && !v.get().isString()) {
      throw wrongType(name, "a string", v.get());
    }
    return v.map(JsonNode::stringValue);
  }

  Optional<Boolean> bool(String name) {
    Optional<JsonNode> v = get(name);
    if (v.isPresent() && !v.get().isBoolean()) {
      throw wrongType(name, "a boolean", v.get());
    }
    return v.map(JsonNode::booleanValue);
  }

  /** An integer in {@code [min, max]}. */
  OptionalLong integer(String name, long min, long max) {
    Optional<JsonNode> v = get(name);
    if (v.isEmpty()) {
      return OptionalLong.empty();
    }
    if (!v.get().isIntegralNumber() || !v.get().canConvertToLong()) {
      throw wrongType(name, "an integer", v.get());
    }
    long x = v.get().longValue();
    if (x < min || x > max) {
      throw OpenAiException.badRequest(param(name), String.format("'%s' is %d; expected an integer in [%d, %d]",
          param(name), x, min, max));
    }
    return OptionalLong.of(x);
  }

  /** A number in {@code [min, max]}. */
  OptionalDouble number(String name, double min, double max) {
    Optional<JsonNode> v = get(name);
    if (v.isEmpty()) {
      return OptionalDouble.empty();
    }
    if (!v.get().isNumber()) {
      throw wrongType(name, "a number", v.get());
    }
    double x;
    try {
      x = v.get().doubleValue();
    } catch (JacksonException e) { // a big decimal past double's range
      x = Double.NaN;
    }
    if (!(x >= min && x <= max)) {
      throw OpenAiException.badRequest(param(name), String.format("'%s' is %s; expected a number in [%s, %s]",
          param(name), v.get(), min, max));
    }
    return OptionalDouble.of(x);
  }

  OpenAiException wrongType(String name, String expected, JsonNode actual) {
    return OpenAiException.badRequest(param(name), String.format("'%s' must be %s, not %s",
        param(name), expected, actual.getNodeType().name().toLowerCase(java.util.Locale.ROOT)));
  }
}

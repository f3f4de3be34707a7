package io.autoglm.spring;

import java.util.Optional;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The one JSON mapper of the HTTP API: request trees in, maps and lists out. Independent of the app's mapper. */
final class Json {
  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private Json() {}

  static byte[] bytes(Object value) {
    return MAPPER.writeValueAsBytes(value);
  }

  static String string(Object value) {
    return MAPPER.writeValueAsString(value);
  }

  /** Parses a request body; a body that is not a JSON object is a 400. */
  static JsonNode object(byte[] body) {
    JsonNode node;
    try {
      node = body.length == 0 ? null : MAPPER.readTree(body);
    } catch (JacksonException e) {
      throw OpenAiException.badRequest(null, "request body is not valid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw OpenAiException.badRequest(null, "request body must be a JSON object");
    }
    return node;
  }

  /** A JSON text carried inside a request (a tool call's arguments) as plain Java; empty when it is not JSON. */
  static Optional<Object> parse(String text) {
    try {
      return Optional.ofNullable(MAPPER.readValue(text, Object.class));
    } catch (JacksonException e) {
      return Optional.empty();
    }
  }

  /** A JSON value as plain Java: maps, lists, strings, numbers, booleans and null (for chat template fields). */
  static Object plain(JsonNode node) {
    return MAPPER.convertValue(node, Object.class);
  }
}

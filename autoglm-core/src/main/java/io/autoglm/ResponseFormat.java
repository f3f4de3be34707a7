package io.autoglm;

import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.Optional;

/**
 * The shape the output must have: any JSON object, or JSON valid under a JSON Schema (the supported subset is in
 * docs/structured-output.md). Generation is constrained token by token, so the text is valid JSON of that shape
 * whenever it finishes with {@link FinishReason#STOP}; with {@link FinishReason#LENGTH} it is a prefix of one
 * (max tokens cut the value).
 *
 * @param jsonSchema the schema's JSON text, present exactly for {@link Type#JSON_SCHEMA}
 */
public record ResponseFormat(Type type, Optional<String> jsonSchema) {
  /** The kinds of constrained output. */
  public enum Type {
    /** Any JSON object (compact, nesting bounded). */
    JSON_OBJECT,
    /** JSON valid under {@link #jsonSchema()}. */
    JSON_SCHEMA
  }

  public ResponseFormat {
    if (type == null || jsonSchema == null) {
      throw new IllegalArgumentException("type and jsonSchema must not be null; use Optional.empty()");
    }
    if (type == Type.JSON_OBJECT && jsonSchema.isPresent()) {
      throw new IllegalArgumentException("json_object takes no schema, got " + jsonSchema.get());
    }
    if (type == Type.JSON_SCHEMA) {
      String schema = jsonSchema.orElseThrow(() -> new IllegalArgumentException("json_schema needs a schema"));
      try {
        if (!JsonParser.parseString(schema).isJsonObject()) {
          throw new IllegalArgumentException("json_schema (" + abbreviate(schema) + ") must be a JSON object");
        }
      } catch (JsonParseException e) {
        throw new IllegalArgumentException("json_schema (" + abbreviate(schema) + ") is not valid JSON: "
            + e.getMessage(), e);
      }
    }
  }

  /** Any JSON object. */
  public static ResponseFormat jsonObject() {
    return new ResponseFormat(Type.JSON_OBJECT, Optional.empty());
  }

  /** JSON valid under the schema {@code schemaJson} (JSON text of a schema object). */
  public static ResponseFormat jsonSchema(String schemaJson) {
    return new ResponseFormat(Type.JSON_SCHEMA, Optional.of(schemaJson));
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}

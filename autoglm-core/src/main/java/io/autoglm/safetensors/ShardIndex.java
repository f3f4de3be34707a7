package io.autoglm.safetensors;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads {@code model.safetensors.index.json}: a JSON object whose {@code weight_map} maps each tensor name to the
 * shard file that holds it. Strict JSON; a tensor listed twice is an error (a JSON reader would silently keep the
 * last); other top-level keys ({@code metadata}) are skipped.
 */
final class ShardIndex {
  private ShardIndex() {}

  /** Tensor name → shard path as written, in file order. */
  static Map<String, String> read(Path index) {
    String text;
    try {
      text = Files.readString(index);
    } catch (IOException e) {
      throw new ModelLoadException("cannot read shard index " + index + ": " + e, e);
    }
    JsonReader in = new JsonReader(new StringReader(text));
    in.setStrictness(Strictness.STRICT);
    try {
      Map<String, String> map = null;
      expect(in, JsonToken.BEGIN_OBJECT, index, "the index");
      in.beginObject();
      while (in.hasNext()) {
        String key = in.nextName();
        if (!key.equals("weight_map")) {
          in.skipValue();
        } else if (map != null) {
          throw new ModelLoadException("shard index " + index + " has weight_map twice");
        } else {
          map = weightMap(in, index);
        }
      }
      in.endObject();
      if (in.peek() != JsonToken.END_DOCUMENT) {
        throw new ModelLoadException("shard index " + index + " has more after its JSON object, at " + in.getPath());
      }
      if (map == null) {
        throw new ModelLoadException("shard index " + index + " has no weight_map object");
      }
      return map;
    } catch (IOException e) {
      throw new ModelLoadException("shard index " + index + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  private static Map<String, String> weightMap(JsonReader in, Path index) throws IOException {
    expect(in, JsonToken.BEGIN_OBJECT, index, "weight_map");
    Map<String, String> map = new LinkedHashMap<>();
    in.beginObject();
    while (in.hasNext()) {
      String tensor = in.nextName();
      expect(in, JsonToken.STRING, index, "weight_map." + tensor);
      if (map.put(tensor, in.nextString()) != null) {
        throw new ModelLoadException("shard index " + index + " lists tensor " + tensor + " twice in weight_map");
      }
    }
    in.endObject();
    return Collections.unmodifiableMap(map);
  }

  private static void expect(JsonReader in, JsonToken token, Path index, String what) throws IOException {
    JsonToken t = in.peek();
    if (t != token) {
      String got = switch (t) {
        case STRING -> HeaderParser.quote(in.nextString());
        case NUMBER -> in.nextString();
        case BOOLEAN -> Boolean.toString(in.nextBoolean());
        case NULL -> "null";
        case BEGIN_ARRAY -> "an array";
        case BEGIN_OBJECT -> "an object";
        default -> t.toString();
      };
      throw new ModelLoadException(String.format("shard index %s: %s must be %s, got %s", index, what,
          token == JsonToken.STRING ? "a shard file name (a string)" : "an object", got));
    }
  }
}

package io.autoglm.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.ModelFolder;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.function.DoublePredicate;
import java.util.regex.Pattern;

/**
 * Typed reads of a JSON config object's fields. Every read checks the JSON type and the range, and a failure names the
 * field, what it must be and the value as written: {@code num_hidden_layers ("abc") must be an integer >= 1}.
 * Integers must be written as integers (no fraction, no exponent: transformers' typed configs reject {@code 2.0} for
 * an int too) and fit a Java int; numbers must be finite; booleans must be {@code true} or {@code false}.
 *
 * <p>An absent field takes the caller's default. An explicit {@code null} is an error, except where
 * {@code nullIsAbsent} (generation_config.json, whose unset fields transformers writes as null) or where the caller
 * asks with {@link #present}.
 */
final class ConfigReader {
  private static final Pattern INTEGER = Pattern.compile("-?(0|[1-9][0-9]*)");

  private final JsonObject o;
  private final String prefix;
  private final boolean nullIsAbsent;

  ConfigReader(JsonObject o, String prefix, boolean nullIsAbsent) {
    this.o = o;
    this.prefix = prefix;
    this.nullIsAbsent = nullIsAbsent;
  }

  /** Reads a JSON file that must hold one object; any other content is a {@link ModelLoadException}. */
  static JsonObject readObject(Path dir, String name) {
    Path file = ModelFolder.file(dir, name);
    try {
      JsonReader in = new JsonReader(new StringReader(Files.readString(file)));
      in.setStrictness(Strictness.STRICT);
      JsonElement e = JsonParser.parseReader(in);
      if (in.peek() != JsonToken.END_DOCUMENT) {
        throw new ModelLoadException(file + " has more after its JSON value, at " + in.getPath());
      }
      if (!e.isJsonObject()) {
        throw new ModelLoadException(file + " must hold a JSON object, got " + show(e));
      }
      return e.getAsJsonObject();
    } catch (java.nio.file.NoSuchFileException e) {
      throw new ModelLoadException("cannot read " + file + ": it does not exist", e);
    } catch (IOException | JsonParseException e) {
      throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** Whether the field is there and not null. */
  boolean present(String key) {
    return o.has(key) && !o.get(key).isJsonNull();
  }

  private boolean absent(String key) {
    return !o.has(key) || nullIsAbsent && o.get(key).isJsonNull();
  }

  int requiredInt(String key, int min, String requiredBy) {
    if (absent(key)) {
      throw new ModelLoadException(prefix + key + " is missing (required" + requiredBy + ": an integer >= " + min
          + ")");
    }
    return intValue(prefix + key, o.get(key), min);
  }

  int optionalInt(String key, int min, int fallback) {
    return absent(key) ? fallback : intValue(prefix + key, o.get(key), min);
  }

  OptionalInt optionalInt(String key, int min) {
    return absent(key) ? OptionalInt.empty() : OptionalInt.of(intValue(prefix + key, o.get(key), min));
  }

  /** A finite number for which {@code valid} holds, {@code expected} saying which ("a number > 0"). */
  OptionalDouble optionalNumber(String key, String expected, DoublePredicate valid) {
    if (absent(key)) {
      return OptionalDouble.empty();
    }
    JsonElement e = o.get(key);
    double v = number(e).orElse(Double.NaN);
    if (!Double.isFinite(v) || !valid.test(v)) {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be " + expected);
    }
    return OptionalDouble.of(v);
  }

  boolean optionalBoolean(String key, boolean fallback) {
    if (absent(key)) {
      return fallback;
    }
    JsonElement e = o.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be true or false");
    }
    return e.getAsBoolean();
  }

  /** A string, absent or null giving empty. */
  Optional<String> optionalString(String key) {
    if (!present(key)) {
      return Optional.empty();
    }
    JsonElement e = o.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be a string");
    }
    return Optional.of(e.getAsString());
  }

  /** A nested object, absent or null giving an empty one. */
  ConfigReader optionalObject(String key) {
    if (!present(key)) {
      return new ConfigReader(new JsonObject(), prefix + key + ".", nullIsAbsent);
    }
    JsonElement e = o.get(key);
    if (!e.isJsonObject()) {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be an object or null");
    }
    return new ConfigReader(e.getAsJsonObject(), prefix + key + ".", nullIsAbsent);
  }

  /** An integer or a list of integers (transformers' {@code int | list[int]}), absent or null giving empty. */
  Optional<List<Integer>> optionalIntList(String key, int min) {
    if (!present(key)) {
      return Optional.empty();
    }
    JsonElement e = o.get(key);
    List<Integer> out = new ArrayList<>();
    if (e.isJsonArray()) {
      for (int i = 0; i < e.getAsJsonArray().size(); i++) {
        out.add(intValue(prefix + key + "[" + i + "]", e.getAsJsonArray().get(i), min));
      }
    } else if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
      out.add(intValue(prefix + key, e, min));
    } else {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be an integer >= " + min
          + " or a list of them");
    }
    return Optional.of(out);
  }

  /** A list of strings, absent or null giving empty. */
  Optional<List<String>> optionalStringList(String key) {
    if (!present(key)) {
      return Optional.empty();
    }
    JsonElement e = o.get(key);
    if (!e.isJsonArray()) {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be a list of strings or null");
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < e.getAsJsonArray().size(); i++) {
      JsonElement item = e.getAsJsonArray().get(i);
      if (!item.isJsonPrimitive() || !item.getAsJsonPrimitive().isString()) {
        throw new ModelLoadException(prefix + key + "[" + i + "] (" + show(item) + ") must be a string");
      }
      out.add(item.getAsString());
    }
    return Optional.of(out);
  }

  /** The first element of a list of strings ({@code architectures}). */
  Optional<String> firstString(String key) {
    if (!present(key)) {
      return Optional.empty();
    }
    JsonElement e = o.get(key);
    if (!e.isJsonArray() || e.getAsJsonArray().isEmpty() || !e.getAsJsonArray().get(0).isJsonPrimitive()
        || !e.getAsJsonArray().get(0).getAsJsonPrimitive().isString()) {
      throw new ModelLoadException(prefix + key + " (" + show(e) + ") must be a list of class names");
    }
    return Optional.of(e.getAsJsonArray().get(0).getAsString());
  }

  private static int intValue(String field, JsonElement e, int min) {
    String literal = e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsNumber().toString() : null;
    if (literal == null || !INTEGER.matcher(literal).matches()) {
      throw new ModelLoadException(field + " (" + show(e) + ") must be an integer >= " + min);
    }
    long v = literal.length() > 11 ? (literal.startsWith("-") ? Long.MIN_VALUE : Long.MAX_VALUE)
        : Long.parseLong(literal);
    if (v < min) {
      throw new ModelLoadException(field + " (" + literal + ") must be an integer >= " + min);
    }
    if (v > Integer.MAX_VALUE) {
      throw new ModelLoadException(field + " (" + literal + ") must be an integer >= " + min + " and <= "
          + Integer.MAX_VALUE);
    }
    return (int) v;
  }

  /** The number's value; parseDouble takes any JSON number literal in time linear in its length. */
  private static OptionalDouble number(JsonElement e) {
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      return OptionalDouble.empty();
    }
    try {
      return OptionalDouble.of(Double.parseDouble(e.getAsNumber().toString()));
    } catch (NumberFormatException ex) {
      return OptionalDouble.empty();
    }
  }

  /** A value as written, for a message: JSON text, cut after 60 chars with its length said. */
  static String show(JsonElement e) {
    String s = e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsNumber().toString() : e.toString();
    return s.length() <= 60 ? s : s.substring(0, 60) + "… (" + s.length() + " chars)";
  }
}

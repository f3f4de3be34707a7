package io.autoglm.tokenizer;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The shared tokenizer fixtures, read in place from ../shared (never copied into the repository). */
final class Fixtures {
  private Fixtures() {}

  static Path tokenizers(String name) {
    return Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"), "tokenizers", name);
  }

  /** A JSON test resource beside {@code owner}'s package. */
  static JsonObject resourceJson(Class<?> owner, String name) {
    try (InputStream in = owner.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("no test resource " + name + " beside " + owner.getName());
      }
      return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonObject json(String folder, String file) {
    try {
      return JsonParser.parseString(Files.readString(tokenizers(folder).resolve(file))).getAsJsonObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

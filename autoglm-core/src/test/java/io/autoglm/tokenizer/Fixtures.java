package io.autoglm.tokenizer;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The shared tokenizer fixtures, read in place from ../shared (never copied into the repository). */
final class Fixtures {
  private Fixtures() {}

  static Path tokenizers(String name) {
    return Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"), "tokenizers", name);
  }

  static JsonObject json(String folder, String file) {
    try {
      return JsonParser.parseString(Files.readString(tokenizers(folder).resolve(file))).getAsJsonObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

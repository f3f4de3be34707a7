package io.autoglm.spring;

import io.autoglm.testkit.RandomCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * The model the starter's tests serve: a random 2-layer checkpoint at the real GLM-4 vocabulary (written once per
 * build under target/), read with the real GLM-4 tokenizer from the shared fixtures.
 */
final class TestModel {
  static final String ID = "glm-test";

  private TestModel() {}

  static Path fixtures() {
    Path p = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"));
    if (!Files.isDirectory(p)) {
      p = Path.of("../../shared/fixtures");
    }
    return p.toAbsolutePath().normalize();
  }

  static Path tokenizer() {
    return fixtures().resolve("tokenizers/glm-4-9b-chat-hf");
  }

  /** 2048 positions, so a stream can run for seconds (the disconnect test cancels one mid-way). */
  static synchronized Path checkpoint() {
    Path dir = Path.of("target/test-models/glm4-random-2l").toAbsolutePath();
    if (Files.isRegularFile(dir.resolve("config.json"))) {
      return dir;
    }
    try {
      Path tmp = Files.createDirectories(dir.getParent()).resolve("tmp-" + ProcessHandle.current().pid());
      RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "2", "hidden_size", "64",
          "intermediate_size", "128", "num_attention_heads", "4", "head_dim", "16",
          "max_position_embeddings", "2048"), 1L << 30, 7).write(tmp, s -> {});
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Serves the test model: path, tokenizer, id and a KV cache that fits 64 long streams. */
  static void register(DynamicPropertyRegistry registry) {
    registry.add("autoglm.model-path", () -> checkpoint().toString());
    registry.add("autoglm.tokenizer-path", () -> tokenizer().toString());
    registry.add("autoglm.model-id", () -> ID);
    registry.add("autoglm.kv-blocks", () -> "2048");
  }
}

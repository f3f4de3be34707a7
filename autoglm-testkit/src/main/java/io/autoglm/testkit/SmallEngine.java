package io.autoglm.testkit;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The engine adapter tests run: a random 2-layer checkpoint at the real GLM-4 vocabulary (written once per build
 * under the module's target/), read with the real glm-4-9b-chat-hf tokenizer and chat template from the shared
 * fixtures.
 */
public final class SmallEngine {
  private SmallEngine() {}

  /** A loaded engine under {@code modelId}; the caller closes it. */
  public static AutoGLM start(String modelId) {
    return AutoGLM.builder().modelPath(checkpoint()).tokenizerPath(fixtures().resolve("tokenizers/glm-4-9b-chat-hf"))
        .modelId(modelId).kvBlocks(256).build();
  }

  /** The shared fixtures: {@code -Dautoglm.fixtures}, else ../../shared/fixtures. */
  public static Path fixtures() {
    Path p = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"));
    return (Files.isDirectory(p) ? p : Path.of("../../shared/fixtures")).toAbsolutePath().normalize();
  }

  /** The random checkpoint's folder, written on first use. */
  public static synchronized Path checkpoint() {
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

  /** Waits (up to 30 s) until the engine runs nothing and its KV usage is back at {@code idleKvUsage}. */
  public static EngineStats awaitIdle(AutoGLM glm, double idleKvUsage) throws InterruptedException {
    await(() -> glm.stats().running() == 0 && glm.stats().waiting() == 0 && glm.stats().kvUsage() == idleKvUsage);
    return glm.stats();
  }

  /** Waits (up to 30 s) for {@code condition}. */
  public static void await(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not reached within 30 s");
      }
      Thread.sleep(10);
    }
  }
}

package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.testkit.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The registry's swap protocol on real engines: leases hold the old instance, failures change nothing. */
@Timeout(value = 2, unit = TimeUnit.MINUTES) // a hang guard, not a speed check
class ModelRegistryTest {
  @TempDir static Path dir;
  static Path model;

  @BeforeAll
  static void write() {
    model = dir.resolve("tiny");
    RandomCheckpoint.like("glm-4-9b-chat", Map.of("num_hidden_layers", "1", "hidden_size", "32",
        "intermediate_size", "64", "num_attention_heads", "2", "head_dim", "16", "max_position_embeddings", "128"),
        1L << 30, 3).write(model, s -> {});
  }

  private static AutoGLM load(String id) {
    return AutoGLM.builder().modelPath(model).modelId(id).backend("cpu").kvBlocks(16).build();
  }

  private static GenerationRequest request() {
    return GenerationRequest.of(List.of(1, 2, 3), SamplingParams.greedy(2));
  }

  @Test
  void aLeaseTakenBeforeTheSwitchKeepsTheOldInstanceOpenUntilItCloses() throws Exception {
    try (ModelRegistry registry = new ModelRegistry(Duration.ofMinutes(1))) {
      AutoGLM v1 = load("v1");
      registry.register("glm", v1, true);
      ModelRegistry.Lease held = registry.lease("glm");
      ModelRegistry.Swap swap = registry.load("glm", "v2", () -> load("v2"), true);
      AutoGLM v2 = swap.serving().get(1, TimeUnit.MINUTES);
      assertEquals("v2", registry.current("glm").orElseThrow().modelId());
      try (ModelRegistry.Lease after = registry.lease("glm")) {
        assertSame(v2, after.model());
      }
      assertFalse(swap.previousClosed().isDone(), "closed v1 under a lease");
      assertEquals(ModelRegistry.Status.State.DRAINING, registry.status().stream().filter(s -> s.modelId().equals("v1"))
          .findFirst().orElseThrow().state());
      assertEquals(2, held.model().generate(request().promptIds(), request().sampling()).tokenIds().size());
      held.close();
      held.close(); // twice: no effect
      swap.previousClosed().get(1, TimeUnit.MINUTES);
      assertThrows(IllegalStateException.class, () -> v1.submit(request()));
      assertThrows(IllegalStateException.class, held::model);
      assertEquals(List.of(new ModelRegistry.Status("glm", "v2", ModelRegistry.Status.State.SERVING, 0, java.util.Optional.empty())),
          registry.status());
    }
  }

  @Test
  void aFailedLoadLeavesTheServingInstanceAndOneLoadRunsAtATime() throws Exception {
    try (ModelRegistry registry = new ModelRegistry(Duration.ofMinutes(1))) {
      registry.register("glm", load("v1"), true);
      ModelRegistry.Swap failed = registry.load("glm", "broken", () -> {
        throw new ModelLoadException("config.json is missing");
      }, true);
      CompletionException e = assertThrows(CompletionException.class, failed.serving()::join);
      assertTrue(e.getCause().getMessage().contains("config.json is missing"));
      assertEquals("v1", registry.current("glm").orElseThrow().modelId());
      ModelRegistry.Status failure = registry.status().stream().filter(s -> s.state() == ModelRegistry.Status.State.FAILED)
          .findFirst().orElseThrow();
      assertEquals("broken", failure.modelId());
      assertTrue(failure.error().orElseThrow().contains("config.json is missing"));
      try (ModelRegistry.Lease lease = registry.lease("glm")) {
        assertEquals("v1", lease.model().modelId());
      }

      CountDownLatch gate = new CountDownLatch(1);
      ModelRegistry.Swap slow = registry.load("glm", "v3", () -> {
        try {
          gate.await();
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
        return load("v3");
      }, true);
      IllegalStateException busy = assertThrows(IllegalStateException.class,
          () -> registry.load("glm", "v4", () -> load("v4"), true));
      assertTrue(busy.getMessage().contains("v3"), busy.getMessage());
      assertTrue(registry.isLoading("glm"));
      gate.countDown();
      assertEquals("v3", slow.serving().get(1, TimeUnit.MINUTES).modelId());
      slow.previousClosed().get(1, TimeUnit.MINUTES);
      NoSuchElementException none = assertThrows(NoSuchElementException.class, () -> registry.lease("other"));
      assertTrue(none.getMessage().contains("[glm]"), none.getMessage());
    }
    assertTrue(Files.isDirectory(model));
  }
}

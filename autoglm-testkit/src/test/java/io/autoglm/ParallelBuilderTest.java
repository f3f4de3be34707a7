package io.autoglm;

import io.autoglm.testkit.Conformance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The builder rejects splits the model cannot take, naming the counts (glm-tiny: 4 heads, 2 KV heads, 3 layers). */
class ParallelBuilderTest {
  private static AutoGLM.Builder glmTiny() {
    return AutoGLM.builder().modelPath(Fixtures.model("glm-tiny")).backend("cpu").kvBlocks(8);
  }

  @Test
  void tensorParallelMustDivideTheHeads() {
    var e = assertThrows(IllegalArgumentException.class, () -> glmTiny().tensorParallel(3).build());
    assertEquals("tensorParallel (3) must divide num_attention_heads (4)", e.getMessage());
  }

  @Test
  void tensorParallelBeyondTheKvHeadsMustBeAMultipleOfThem() {
    var e = assertThrows(IllegalArgumentException.class, () -> glmTiny().tensorParallel(8).build());
    assertEquals("tensorParallel (8) must divide num_attention_heads (4)", e.getMessage());
  }

  @Test
  void pipelineParallelNeedsALayerPerStage() {
    var e = assertThrows(IllegalArgumentException.class, () -> glmTiny().pipelineParallel(4).build());
    assertEquals("pipelineParallel (4) must be <= num_hidden_layers (3): each stage needs a layer", e.getMessage());
  }

  @Test
  void nonPositiveCountsAndMismatchedDevicesAreNamed() {
    assertEquals("tensorParallel (0) must be >= 1",
        assertThrows(IllegalArgumentException.class, () -> glmTiny().tensorParallel(0).build()).getMessage());
    assertEquals("devices lists 3 ordinals [0, 1, 2]; expected none, tensorParallel × pipelineParallel (2 × 1 = 2), "
        + "or tensorParallel (2) shared by the stages", assertThrows(IllegalArgumentException.class,
            () -> glmTiny().tensorParallel(2).devices(java.util.List.of(0, 1, 2)).build()).getMessage());
  }

  /** The engine runs sharded models: TP=2 and PP=2 through the builder match transformers and TP=1. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({"glm4-tiny,2,1", "glm-tiny,1,2", "glm4moe-tiny,2,1"})
  void theEngineRunsShardedModels(String name, int tp, int pp) {
    java.nio.file.Path ref = Fixtures.model(name).resolve("reference.safetensors");
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model(name)).kvBlocks(64).tensorParallel(tp)
        .pipelineParallel(pp).build()) {
      Conformance.Report report = Conformance.run(glm, ref, 1e-4, 2, 2, 5);
      assertTrue(report.passed(), report.toString());
      assertTrue(report.maxAbsLogitDiff() <= 1e-4, "max |Δlogit| " + report.maxAbsLogitDiff());
    }
  }
}

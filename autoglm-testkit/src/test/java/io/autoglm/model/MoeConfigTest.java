package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Reading and validating GLM4-MoE configs, and the checkpoint layout they imply. */
class MoeConfigTest {
  private static JsonObject fixtureJson() throws IOException {
    Path dir = Glm4MoeConformanceTest.fixture("glm4moe-tiny");
    return JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
  }

  @Test
  void readsTheFixtureConfig() {
    ModelConfig c = ModelConfig.load(Glm4MoeConformanceTest.fixture("glm4moe-tiny"));
    assertEquals(Architecture.GLM4_MOE, c.architecture());
    assertFalse(c.architecture().ropeInterleaved());
    assertFalse(c.useQkNorm());
    assertEquals(new MoeConfig(8, 1, 2, 48, 1, 1, 1, 1.5, true, 1), c.moe().orElseThrow());
    assertFalse(c.moe().get().isMoeLayer(0));
    assertTrue(c.moe().get().isMoeLayer(1));
    ModelConfig variant = ModelConfig.load(Glm4MoeConformanceTest.fixture("glm4moe-variant-tiny"));
    assertTrue(variant.useQkNorm());
    assertEquals(new MoeConfig(8, 2, 3, 24, 1, 4, 2, 2.5, false, 1), variant.moe().orElseThrow());
  }

  @Test
  void denseConfigsHaveNoExpertsAndKeepTheirConstructor() {
    ModelConfig glm4 = ModelConfig.load(Glm4MoeConformanceTest.fixture("glm4moe-tiny").resolveSibling("glm4-tiny"));
    assertTrue(glm4.moe().isEmpty());
    assertTrue(glm4.architecture().ropeInterleaved());
    ModelConfig old = new ModelConfig(Architecture.GLM, 64, 160, 3, 4, 2, 16, 384, 1e-5, 1e4, 8, 512, true, false,
        "float32", java.util.List.of(2));
    assertTrue(old.moe().isEmpty());
    assertFalse(old.useQkNorm());
  }

  private static String rejected(Consumer<JsonObject> edit) throws IOException {
    JsonObject o = fixtureJson();
    edit.accept(o);
    return assertThrows(ModelLoadException.class, () -> ModelConfig.fromJson(o)).getMessage();
  }

  @Test
  void rejectsBadMoeFieldsNamingFieldExpectedAndActual() throws IOException {
    assertEquals("n_routed_experts (8) must be a multiple of n_group (3)",
        rejected(o -> o.addProperty("n_group", 3)));
    assertEquals("topk_group (2) must be <= n_group (1)", rejected(o -> o.addProperty("topk_group", 2)));
    assertEquals("num_experts_per_tok (9) must be <= n_routed_experts (8)",
        rejected(o -> o.addProperty("num_experts_per_tok", 9)));
    assertEquals("num_experts_per_tok (5) must be <= topk_group (1) × experts per group (4) = 4",
        rejected(o -> {
          o.addProperty("n_group", 2);
          o.addProperty("num_experts_per_tok", 5);
        }));
    assertEquals("moe_intermediate_size (0) must be an integer >= 1", rejected(o -> o.addProperty("moe_intermediate_size", 0)));
    assertEquals("first_k_dense_replace (-1) must be an integer >= 0",
        rejected(o -> o.addProperty("first_k_dense_replace", -1)));
    assertEquals("routed_scaling_factor (0.0) must be a number > 0",
        rejected(o -> o.addProperty("routed_scaling_factor", 0.0)));
    assertEquals("n_routed_experts is missing (required by Glm4MoeForCausalLM: an integer >= 1)",
        rejected(o -> o.remove("n_routed_experts")));
  }

  /** The layout's decoder tensors are exactly the fixture's, with the same shapes; only the MTP layer is extra. */
  @Test
  void layoutMatchesTheFixtureCheckpoint() {
    for (String name : new String[] {"glm4moe-tiny", "glm4moe-variant-tiny"}) {
      Path dir = Glm4MoeConformanceTest.fixture(name);
      ModelConfig c = ModelConfig.load(dir);
      Map<String, long[]> layout = new java.util.LinkedHashMap<>(CheckpointLayout.tensors(c));
      layout.keySet().removeAll(CheckpointLayout.mtpTensors(c).keySet());
      try (Checkpoint ckpt = Checkpoint.open(dir)) {
        assertEquals(new java.util.TreeSet<>(ckpt.tensorNames()), new java.util.TreeSet<>(layout.keySet()), name);
        layout.forEach((n, shape) -> assertArrayEquals(shape, ckpt.tensorAnyShape(n).shape(), n));
      }
    }
  }
}

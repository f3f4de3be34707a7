package io.autoglm.model;

import io.autoglm.testkit.ReferenceSet;
import io.autoglm.testkit.RandomCheckpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading GLM4-MoE checkpoints: the multi-token-prediction layer is skipped, random GLM-4.5-Air ones load. */
class Glm4MoeCheckpointTest {
  @TempDir Path tmp;

  /**
   * transformers drops the MTP layer when it saves, so the fixture has none: this adds {@code model.layers.3.*}
   * (a full MoE layer plus eh_proj, enorm, hnorm, shared_head.norm) in an extra shard listed by the index, and
   * checks that the model still loads and still matches the reference logits.
   */
  @Test
  void checkpointWithAnMtpLayerLoadsAndStillMatches() throws IOException {
    Path fixture = Glm4MoeConformanceTest.fixture("glm4moe-tiny");
    ModelConfig c = ModelConfig.load(fixture);
    assertEquals(1, c.moe().orElseThrow().numNextnPredictLayers());
    try (Stream<Path> files = Files.list(fixture)) {
      for (Path f : files.toList()) {
        if (!f.getFileName().toString().equals(Checkpoint.INDEX_FILE)) {
          Files.copy(f, tmp.resolve(f.getFileName())); // a link out of the folder would be refused
        }
      }
    }
    Map<String, long[]> mtp = CheckpointLayout.mtpTensors(c);
    assertTrue(mtp.containsKey("model.layers.3.eh_proj.weight"));
    assertTrue(mtp.containsKey("model.layers.3.mlp.experts.7.down_proj.weight"));
    F32Safetensors.writeRandom(tmp.resolve("model-mtp.safetensors"), mtp, 7);
    JsonObject index = JsonParser.parseString(Files.readString(fixture.resolve(Checkpoint.INDEX_FILE)))
        .getAsJsonObject();
    mtp.keySet().forEach(n -> index.getAsJsonObject("weight_map").addProperty(n, "model-mtp.safetensors"));
    Files.writeString(tmp.resolve(Checkpoint.INDEX_FILE), new GsonBuilder().create().toJson(index));

    try (Checkpoint ckpt = Checkpoint.open(tmp); DjlCpuBackend backend = new DjlCpuBackend()) {
      assertTrue(ckpt.contains("model.layers.3.mlp.gate.e_score_correction_bias"));
      GlmModel m = GlmModel.load(c, ckpt, backend, LoadProgress.none());
      ReferenceSet.Prompt p = ReferenceSet.load(fixture.resolve("reference.safetensors")).prompts().get(2);
      float[][] got = StepRunner.chunked(m, backend, p.inputIds(), 16);
      double d = StepRunner.maxDiff(got, 0, p.logits(), 0, p.inputIds().length);
      System.out.printf("glm4moe-tiny + MTP layer p2: max|Δ| %.3g%n", d);
      assertTrue(d <= Glm4MoeConformanceTest.TOLERANCE, "logits differ by " + d);
    }
  }

  /** {@code init-random --like glm-4.5-air} with few layers and small sizes: written, reopened, loaded, run. */
  @Test
  void randomGlm45AirCheckpointWritesAndLoads() {
    Map<String, String> overrides = new TreeMap<>(Map.of(
        "num_hidden_layers", "2", "hidden_size", "64", "intermediate_size", "96", "moe_intermediate_size", "32",
        "n_routed_experts", "16", "num_attention_heads", "4", "num_key_value_heads", "2", "head_dim", "16",
        "vocab_size", "512"));
    overrides.put("num_experts_per_tok", "4");
    RandomCheckpoint.like("glm-4.5-air", overrides, 100_000, 42).write(tmp, msg -> { });

    ModelConfig c = ModelConfig.load(tmp);
    MoeConfig m = c.moe().orElseThrow();
    assertEquals(Architecture.GLM4_MOE, c.architecture());
    assertEquals(1_000_000.0, c.ropeTheta());
    assertEquals(8, c.rotaryDim());
    assertFalse(c.useQkNorm());
    assertEquals(new MoeConfig(16, 1, 4, 32, 1, 1, 1, 1.0, true, 1), m);
    try (Checkpoint ckpt = Checkpoint.open(tmp); DjlCpuBackend backend = new DjlCpuBackend()) {
      assertTrue(ckpt.contains("model.layers.0.mlp.gate_proj.weight"), "layer 0 is dense");
      assertTrue(ckpt.contains("model.layers.1.mlp.experts.15.up_proj.weight"), "layer 1 is MoE");
      assertTrue(ckpt.contains("model.layers.2.eh_proj.weight"), "the MTP layer is written");
      assertEquals(DType.F32, ckpt.tensorAnyShape("model.layers.1.mlp.gate.e_score_correction_bias").dtype());
      assertEquals(DType.BF16, ckpt.tensorAnyShape("model.layers.1.mlp.experts.0.down_proj.weight").dtype());
      GlmModel model = GlmModel.load(c, ckpt, backend, LoadProgress.none());
      int[] tokens = {5, 17, 300, 42, 7, 99, 256, 3, 1, 511, 0, 64};
      float[][] whole = StepRunner.chunked(model, backend, tokens, 16);
      float[][] chunked = StepRunner.chunked(model, backend, tokens, 4, 7, 1);
      assertEquals(tokens.length, whole.length);
      assertEquals(512, whole[0].length);
      for (float[] row : whole) {
        for (float v : row) {
          assertTrue(Float.isFinite(v), "logit " + v);
        }
      }
      double d = StepRunner.maxDiff(chunked, 0, whole, 0, tokens.length);
      System.out.printf("random glm-4.5-air: chunked vs whole max|Δ| %.3g%n", d);
      assertTrue(d <= 1e-5, "chunked prefill differs from one step by " + d);
    }
  }

  @Test
  void glm45AirPresetHasTheRealShapes() {
    ModelConfig c = RandomCheckpoint.like("glm-4.5-air", Map.of(), 1L << 32, 0).modelConfig();
    assertEquals(4096, c.hiddenSize());
    assertEquals(10944, c.intermediateSize());
    assertEquals(46, c.numLayers());
    assertEquals(96, c.numHeads());
    assertEquals(8, c.numKvHeads());
    assertEquals(128, c.headDim());
    assertEquals(64, c.rotaryDim());
    assertEquals(151552, c.vocabSize());
    assertEquals(new MoeConfig(128, 1, 8, 1408, 1, 1, 1, 1.0, true, 1), c.moe().orElseThrow());
    long total = CheckpointLayout.tensors(c).entrySet().stream()
        .filter(e -> !e.getKey().startsWith("model.layers.46."))
        .mapToLong(e -> Stream.of(e.getValue()).mapToLong(s -> java.util.Arrays.stream(s).reduce(1, (a, b) -> a * b))
            .sum())
        .sum();
    long active = CheckpointLayout.decodeReadElements(c);
    System.out.printf("glm-4.5-air: %.1fB parameters, %.1fB read per decode token%n", total / 1e9, active / 1e9);
    assertTrue(total > 105e9 && total < 108e9, "GLM-4.5-Air has ~106B parameters, layout gives " + total);
    assertTrue(active > 11e9 && active < 13e9, "~12B active, layout gives " + active);
  }
}

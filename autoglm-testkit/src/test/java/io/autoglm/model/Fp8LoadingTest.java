package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.AutoGLM;
import io.autoglm.Fixtures;
import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8Scheme;
import io.autoglm.testkit.Conformance;
import io.autoglm.testkit.Fp8Checkpoints;
import io.autoglm.testkit.ReferenceSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Loading FP8 on the CPU backend, against invariants that need no FP8 reference of their own:
 * <ul>
 *   <li>an FP8 checkpoint computes what its dequantized twin computes (the same weights as F32 {@code code × scale}):
 *       FP8 load = dequantize, then load;
 *   <li>{@code quantization("fp8")} on an fp32 checkpoint computes what the FP8 checkpoint quantized from it does,
 *       and on an FP8 checkpoint changes nothing;
 *   <li>tensor parallelism splits the scales with the weights, or refuses a split inside a block.
 * </ul>
 * Teacher-forced logits of the fixtures' reference sequences are compared. The error that FP8 adds to the fp32 model
 * (relative logit error, greedy agreement with transformers' fp32 greedy) is printed, and bounded loosely.
 */
class Fp8LoadingTest {
  @TempDir Path tmp;

  private static List<float[]> logits(Path model, UnaryOperator<AutoGLM.Builder> settings) {
    List<float[]> out = new ArrayList<>();
    ReferenceSet ref = ReferenceSet.load(Fixtures.model("glm4-tiny").resolve("reference.safetensors"));
    try (AutoGLM glm = settings.apply(AutoGLM.builder().modelPath(model).backend("cpu").kvBlocks(64)).build()) {
      for (ReferenceSet.Prompt p : ref.prompts()) {
        out.addAll(Conformance.teacherForcedLogits(glm, p.teacherForced()));
      }
    }
    return out;
  }

  private static double maxAbsDiff(List<float[]> a, List<float[]> b) {
    assertEquals(a.size(), b.size());
    double max = 0;
    for (int i = 0; i < a.size(); i++) {
      max = Math.max(max, Conformance.maxAbsDiff(a.get(i), b.get(i)));
    }
    return max;
  }

  /** ‖a − b‖ / ‖b‖ over all rows. */
  private static double relativeError(List<float[]> a, List<float[]> b) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < a.size(); i++) {
      for (int j = 0; j < a.get(i).length; j++) {
        diff += Math.pow(a.get(i)[j] - b.get(i)[j], 2);
        norm += Math.pow(b.get(i)[j], 2);
      }
    }
    return Math.sqrt(diff / norm);
  }

  /** The share of rows whose argmax agrees. */
  private static double top1Agreement(List<float[]> a, List<float[]> b) {
    int same = 0;
    for (int i = 0; i < a.size(); i++) {
      same += argmax(a.get(i)) == argmax(b.get(i)) ? 1 : 0;
    }
    return (double) same / a.size();
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      best = v[i] > v[best] ? i : best;
    }
    return best;
  }

  private Path fp8(String fixture, Fp8Scheme scheme) {
    Path dir = tmp.resolve(fixture + "-fp8-" + scheme.blockRows() + "x" + scheme.blockCols());
    Fp8Checkpoints.quantize(Fixtures.model(fixture), dir, scheme);
    return dir;
  }

  @ParameterizedTest
  @CsvSource({"glm4-tiny, 128, 128", "glm4-tiny, 48, 40", "glm4moe-tiny, 128, 128", "glm4moe-tiny, 16, 8"})
  void anFp8CheckpointComputesWhatItsDequantizedTwinComputes(String fixture, int blockRows, int blockCols) {
    Path fp8 = fp8(fixture, new Fp8Scheme(blockRows, blockCols, List.of()));
    Path twin = tmp.resolve("twin");
    Fp8Checkpoints.dequantize(fp8, twin);
    ModelConfig c = ModelConfig.load(fp8);
    try (Checkpoint ckpt = Checkpoint.open(fp8, c.quantization())) {
      for (String name : CheckpointLayout.linearWeights(c)) {
        assertEquals(DType.F8_E4M3, ckpt.tensorAnyShape(name).dtype(), name);
      }
      assertEquals(DType.F32, ckpt.tensorAnyShape("model.embed_tokens.weight").dtype());
    }
    double diff = maxAbsDiff(logits(fp8, b -> b), logits(twin, b -> b));
    System.out.printf("%s FP8 %d×%d vs its dequantized F32 twin: max |Δlogit| %.3g%n", fixture, blockRows, blockCols,
        diff);
    assertTrue(diff <= 1e-5, fixture + ": max |Δlogit| " + diff);
  }

  @ParameterizedTest
  @ValueSource(strings = {"glm4-tiny", "glm4moe-tiny"})
  void quantizingAtLoadComputesWhatTheQuantizedCheckpointComputes(String fixture) {
    Path model = Fixtures.model(fixture);
    Path fp8 = fp8(fixture, Fp8Scheme.PUBLISHED);
    List<float[]> atLoad = logits(model, b -> b.quantization("fp8"));
    List<float[]> stored = logits(fp8, b -> b);
    assertTrue(maxAbsDiff(atLoad, stored) <= 1e-6, "quantize at load vs FP8 checkpoint: " + maxAbsDiff(atLoad, stored));
    assertTrue(maxAbsDiff(stored, logits(fp8, b -> b.quantization("fp8"))) == 0,
        "quantization(\"fp8\") on an FP8 checkpoint changes nothing");
    List<float[]> fp32 = logits(model, b -> b);
    double rel = relativeError(atLoad, fp32);
    double max = maxAbsDiff(atLoad, fp32);
    Conformance.Report report;
    try (AutoGLM glm = AutoGLM.builder().modelPath(model).backend("cpu").kvBlocks(64).quantization("fp8").build()) {
      report = Conformance.run(glm, model.resolve("reference.safetensors"), 1e-4, 1, 0, 42);
    }
    int agreed = report.prompts().stream().mapToInt(Conformance.PromptReport::greedyAgreed).sum();
    int steps = report.prompts().stream().mapToInt(Conformance.PromptReport::greedySteps).sum();
    System.out.printf("%s quantized to FP8 at load vs fp32: relative logit error %.3g, max |Δlogit| %.3g, top-1 "
        + "equal at %.1f%% of %d teacher-forced positions, generated greedy tokens equal to transformers' fp32 greedy "
        + "before the first difference: %d of %d%n", fixture, rel, max, 100 * top1Agreement(atLoad, fp32),
        fp32.size(), agreed, steps);
    assertTrue(rel > 1e-4, "FP8 rounding must show (relative error " + rel + "): was anything quantized?");
    // A sanity bound only: each weight carries up to 2^-4 relative rounding error, and the 18 (glm4-tiny) or 69
    // (glm4moe-tiny) linear weights of these 3-layer random models compound it; the exact checks are the equalities.
    assertTrue(rel < 0.25, "relative logit error " + rel + " is far beyond FP8's rounding");
  }

  @Test
  void onlyLinearWeightsMayBeFp8() {
    Path model = Fixtures.model("glm4moe-tiny");
    ModelConfig c = ModelConfig.load(model);
    for (String extra : List.of("model.embed_tokens.weight", "lm_head.weight", "model.layers.1.mlp.gate.weight")) {
      Set<String> names = new HashSet<>(CheckpointLayout.linearWeights(c));
      names.add(extra);
      Path dir = tmp.resolve("bad-" + extra);
      Fp8Checkpoints.quantize(model, dir, Fp8Scheme.PUBLISHED, names);
      ModelLoadException e = assertThrows(ModelLoadException.class,
          () -> AutoGLM.builder().modelPath(dir).backend("cpu").kvBlocks(8).build().close());
      assertEquals("tensor " + extra + " in " + dir.resolve("model.safetensors") + " has dtype F8_E4M3; expected "
          + "F32, F16 or BF16: only the decoder's linear layers (q/k/v/o_proj, gate/up/down_proj, experts) may be FP8",
          e.getMessage());
    }
  }

  @Test
  void scaleTensorsCountAsUsed() {
    Path fp8 = fp8("glm4moe-tiny", Fp8Scheme.PUBLISHED);
    try (Checkpoint ckpt = Checkpoint.open(fp8, Optional.of(Fp8Scheme.PUBLISHED))) {
      assertEquals(List.of(), UnusedTensors.of(ModelConfig.load(fp8), ckpt.tensorNames()));
    }
  }

  @Test
  void tensorParallelSlicesTheScalesOnBlockBoundaries() {
    Path aligned = fp8("glm4-tiny", new Fp8Scheme(16, 16, List.of()));
    double diff = maxAbsDiff(logits(aligned, b -> b.tensorParallel(2)), logits(aligned, b -> b));
    assertTrue(diff <= 1e-5, "tensor parallel 2 vs 1 on FP8: " + diff);
    Path coarse = fp8("glm4-tiny", Fp8Scheme.PUBLISHED);
    Exception e = assertThrows(RuntimeException.class, () -> AutoGLM.builder().modelPath(coarse).backend("cpu")
        .kvBlocks(8).tensorParallel(2).build().close());
    Throwable root = e;
    while (!(root instanceof ModelLoadException) && root.getCause() != null) {
      root = root.getCause();
    }
    assertTrue(root.getMessage().startsWith("tensor model.layers.0.self_attn.q_proj.weight in "
        + coarse.resolve("model.safetensors") + ": tensor-parallel rows 0:32 of 64 does not fall on its FP8 scale "
        + "blocks of 128 rows; expected a split at multiples of 128"), root.getMessage());
  }
}

package io.autoglm.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.AutoGLM;
import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.UnusedTensors;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8Scheme;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code init-random --dtype fp8}: a random FP8 checkpoint in the published form is the bf16 checkpoint of the same
 * seed with its linear weights quantized, byte for byte as {@link Fp8Checkpoints#quantize} writes them, and loads to
 * the model that quantizing the bf16 checkpoint at load gives.
 */
class RandomFp8CheckpointTest {
  @TempDir Path tmp;

  /** GLM-4.5-Air's layout, small: hidden 192 and intermediate 160 leave partial 128-blocks. */
  private static RandomCheckpoint air() {
    Map<String, String> o = new TreeMap<>(Map.of("num_hidden_layers", "2", "hidden_size", "192",
        "intermediate_size", "160", "moe_intermediate_size", "48", "n_routed_experts", "8", "num_attention_heads", "4",
        "num_key_value_heads", "2", "head_dim", "48", "vocab_size", "300", "num_experts_per_tok", "2"));
    return RandomCheckpoint.like("glm-4.5-air", o, 200_000, 7);
  }

  @Test
  void isTheBf16CheckpointWithItsLinearsQuantized() throws Exception {
    Path bf16 = tmp.resolve("bf16");
    Path fp8 = tmp.resolve("fp8");
    Path converted = tmp.resolve("converted");
    air().write(bf16, m -> { });
    air().fp8().write(fp8, m -> { });
    Fp8Checkpoints.quantize(bf16, converted, Fp8Scheme.PUBLISHED);
    ModelConfig c = ModelConfig.load(fp8);
    assertEquals(Optional.of(Fp8Scheme.PUBLISHED), c.quantization());
    assertTrue(Files.list(fp8).filter(p -> p.toString().endsWith(".safetensors")).count() > 1, "sharded");
    try (Checkpoint a = Checkpoint.open(fp8, c.quantization());
         Checkpoint b = Checkpoint.open(converted, c.quantization());
         Checkpoint plain = Checkpoint.open(bf16, Optional.empty())) {
      assertEquals(List.of(), UnusedTensors.of(c, a.tensorNames()));
      assertEquals(new java.util.TreeSet<>(b.tensorNames()), new java.util.TreeSet<>(a.tensorNames()));
      int linears = 0;
      for (String name : a.tensorNames()) {
        TensorSlice x = a.tensorAnyShape(name);
        TensorSlice y = b.tensorAnyShape(name);
        boolean linear = CheckpointLayout.linearWeights(c).contains(name);
        linears += linear ? 1 : 0;
        assertEquals(linear || name.endsWith(Fp8Scheme.SCALE_SUFFIX) ? (linear ? DType.F8_E4M3 : DType.F32)
            : plain.tensorAnyShape(name).dtype(), x.dtype(), name);
        assertEquals(y.dtype(), x.dtype(), name);
        assertArrayEquals(y.shape(), x.shape(), name);
        assertEquals(0, bytes(y).compareTo(bytes(x)), name + " differs from the quantized bf16 tensor");
      }
      assertEquals(2 * 4 + 3 * 8 + 3 + 3, linears, "2 layers' q/k/v/o, 8 experts' gate/up/down, 1 shared, 1 dense");
    }
    UnaryOperator<AutoGLM.Builder> cpu = b -> b.backend("cpu").kvBlocks(16);
    int[] tokens = {5, 17, 2, 99, 250, 3, 1};
    List<float[]> stored;
    List<float[]> atLoad;
    try (AutoGLM glm = cpu.apply(AutoGLM.builder().modelPath(fp8)).build()) {
      stored = Conformance.teacherForcedLogits(glm, tokens);
      assertTrue(glm.config().quantization().startsWith("fp8 e4m3, 128×128 blocks (checkpoint)"),
          glm.config().quantization());
    }
    try (AutoGLM glm = cpu.apply(AutoGLM.builder().modelPath(bf16)).quantization("fp8").build()) {
      atLoad = Conformance.teacherForcedLogits(glm, tokens);
      assertEquals("fp8 e4m3, 128×128 blocks (quantized at load)", glm.config().quantization());
    }
    for (int i = 0; i < tokens.length; i++) {
      assertTrue(Conformance.maxAbsDiff(stored.get(i), atLoad.get(i)) <= 1e-6, "position " + i);
    }
  }

  private static ByteBuffer bytes(TensorSlice t) {
    return t.data().duplicate().rewind();
  }
}

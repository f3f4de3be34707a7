package io.autoglm.cuda.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.BlockScale;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RandomWeightsTest {
  private static final String TINY = FastRandomCheckpoint.GLM4_32B.replace("\"hidden_size\":6144", "\"hidden_size\":64")
      .replace("\"intermediate_size\":23040", "\"intermediate_size\":96").replace("\"num_hidden_layers\":61",
          "\"num_hidden_layers\":2").replace("\"head_dim\":128", "\"head_dim\":16")
      .replace("\"vocab_size\":151552", "\"vocab_size\":300");

  @Test
  void servesEveryTensorOfTheLayoutWithItsShapeAndTheDistributionsOfFastRandomCheckpoint(@TempDir Path dir)
      throws Exception {
    Files.writeString(dir.resolve("config.json"), TINY);
    ModelConfig c = ModelConfig.load(dir);
    RandomWeights w = new RandomWeights(c);
    long bytes = 0;
    for (Map.Entry<String, long[]> e : CheckpointLayout.tensors(c).entrySet()) {
      assertTrue(w.contains(e.getKey()), e.getKey());
      List<TensorSlice> parts = w.load(e.getKey(), e.getValue());
      TensorSlice t = parts.get(0);
      assertEquals(1, parts.size());
      assertEquals(DType.BF16, t.dtype());
      assertEquals(2 * t.elementCount(), t.data().remaining(), e.getKey());
      double sum = 0;
      double sq = 0;
      for (int i = 0; i < t.elementCount(); i++) {
        float v = Float.intBitsToFloat((t.data().getShort(2 * i) & 0xffff) << 16);
        sum += v;
        sq += v * v;
      }
      double mean = sum / t.elementCount();
      double std = Math.sqrt(sq / t.elementCount() - mean * mean);
      if (e.getKey().endsWith("norm.weight")) {
        assertTrue(Math.abs(mean - 1) < 0.02 && std < 0.1, e.getKey() + " mean " + mean + " std " + std);
      } else if (t.elementCount() >= 4096) {
        assertTrue(Math.abs(mean) < 0.002 && Math.abs(std - 0.02) < 0.002, e.getKey() + " mean " + mean + " std " + std);
      }
      bytes += 2 * t.elementCount();
    }
    assertEquals(bytes, w.servedBytes());
    assertThrows(IllegalArgumentException.class, () -> w.load("model.norm.weight", 65));
    assertThrows(IllegalArgumentException.class, () -> w.load("no.such.weight", 64));
  }

  @Test
  void theFp8ModeServesTheDecoderLinearsAsAnFp8CheckpointDoes(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("config.json"), TINY);
    ModelConfig c = ModelConfig.load(dir);
    RandomWeights w = new RandomWeights(c, true);
    long bytes = 0;
    int fp8 = 0;
    for (Map.Entry<String, long[]> e : CheckpointLayout.tensors(c).entrySet()) {
      TensorSlice t = w.load(e.getKey(), e.getValue()).get(0);
      boolean linear = e.getValue().length == 2 && !e.getKey().contains("embed") && !e.getKey().equals("lm_head.weight");
      assertEquals(linear ? DType.F8_E4M3 : DType.BF16, t.dtype(), e.getKey());
      if (linear) {
        fp8++;
        BlockScale s = t.scale().orElseThrow();
        assertEquals(128, s.blockRows());
        assertEquals(128, s.blockCols());
        assertEquals(List.of((e.getValue()[0] + 127) / 128, (e.getValue()[1] + 127) / 128),
            List.of(s.scaleInv().shape()[0], s.scaleInv().shape()[1]), e.getKey());
        assertEquals(t.elementCount(), t.data().remaining());
        for (int i = 0; i < t.elementCount(); i++) {
          float v = Fp8Codec.decode(t.data().get(i));
          assertTrue(!Float.isNaN(v) && Math.abs(v) <= 3.75f, e.getKey() + " code " + t.data().get(i));
        }
        bytes += t.elementCount();
      } else {
        bytes += 2 * t.elementCount();
      }
    }
    assertEquals(2 * 6, fp8, "q, k, v, o, gate_up and down of 2 layers, nothing else");
    assertEquals(bytes, w.servedBytes());
  }

  @Test
  void rangesJoinsConsecutiveRuns() {
    assertEquals("1-3, 5, 7-8", AttentionSelfCheck.ranges(List.of(1, 2, 3, 5, 7, 8)));
    assertEquals("4", AttentionSelfCheck.ranges(List.of(4)));
  }
}

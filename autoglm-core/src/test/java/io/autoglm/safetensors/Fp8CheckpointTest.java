package io.autoglm.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block-scaled FP8 tensors in a checkpoint: a valid one maps with its scale and dequantizes to code × scale; each
 * hostile variant is refused on open (or on mapping, for scale values), naming the tensor, the file, the value and
 * what was expected.
 */
class Fp8CheckpointTest {
  private static final String W = "model.layers.0.mlp.down_proj.weight";
  private static final String S = W + "_scale_inv";
  private static final Fp8Scheme BLOCKS_2x4 = new Fp8Scheme(2, 4, List.of());

  @TempDir Path dir;

  /** One tensor to write: its dtype, shape and raw little-endian bytes. */
  private record T(DType dtype, long[] shape, byte[] bytes) {}

  private final Map<String, T> tensors = new LinkedHashMap<>();

  private void put(String name, DType dtype, long[] shape, byte[] bytes) {
    tensors.put(name, new T(dtype, shape, bytes));
  }

  private static byte[] f32(float... v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return b.array();
  }

  /** A (3, 5) weight of codes 0x38 (1.0) + column, in 2×4 blocks: scales (2, 2). */
  private void validWeight() {
    byte[] q = new byte[15];
    for (int i = 0; i < q.length; i++) {
      q[i] = (byte) (0x38 + i % 5); // 1, 1.125, 1.25, 1.375, 1.5
    }
    put(W, DType.F8_E4M3, new long[] {3, 5}, q);
    put(S, DType.F32, new long[] {2, 2}, f32(0.5f, 2f, 0.25f, 4f));
  }

  private Checkpoint open(Optional<Fp8Scheme> scheme) throws IOException {
    List<SafetensorsHeader.Entry> entries = new ArrayList<>();
    tensors.forEach((n, t) -> entries.add(new SafetensorsHeader.Entry(n, t.dtype(), t.shape())));
    ByteBuffer head = SafetensorsHeader.encode(entries);
    ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(head.remaining() + SafetensorsHeader.dataBytes(entries)));
    out.put(head);
    tensors.values().forEach(t -> out.put(t.bytes()));
    Files.write(dir.resolve("model.safetensors"), out.array());
    return Checkpoint.open(dir, scheme);
  }

  private String refusal(Optional<Fp8Scheme> scheme) {
    return assertThrows(ModelLoadException.class, () -> {
      try (Checkpoint c = open(scheme)) {
        c.tensor(W, 3, 5);
      }
    }).getMessage();
  }

  @Test
  void mapsAnFp8WeightWithItsScaleAndDequantizesBlockByBlock() throws IOException {
    validWeight();
    try (Checkpoint c = open(Optional.of(BLOCKS_2x4))) {
      TensorSlice t = c.tensor(W, 3, 5);
      assertEquals(DType.F8_E4M3, t.dtype());
      BlockScale s = t.scale().orElseThrow();
      assertEquals(2, s.blockRows());
      assertEquals(4, s.blockCols());
      assertEquals(S, s.scaleInv().name());
      float[] out = new float[15];
      Widening.toFloat32(t, 0, 15, FloatBuffer.wrap(out));
      float[] expected = { // rows 0-1 scales (0.5 | 2), row 2 scales (0.25 | 4); column 4 is the second block
          0.5f, 0.5625f, 0.625f, 0.6875f, 3f,
          0.5f, 0.5625f, 0.625f, 0.6875f, 3f,
          0.25f, 0.28125f, 0.3125f, 0.34375f, 6f};
      assertArrayEquals(expected, out);
      float[] tail = new float[4];
      Widening.toFloat32(t, 11, 4, FloatBuffer.wrap(tail)); // a run starting mid-row
      assertArrayEquals(new float[] {0.28125f, 0.3125f, 0.34375f, 6f}, tail);
      assertEquals(15 + 16, c.storedBytes());
      assertEquals(DType.F8_E4M3, c.tensorAnyShape(W).dtype());
    }
  }

  @Test
  void bf16ScalesAreAccepted() throws IOException {
    put(W, DType.F8_E4M3, new long[] {3, 5}, new byte[15]);
    put(S, DType.BF16, new long[] {1, 1}, new byte[] {(byte) 0x80, 0x3f}); // bf16 1.0
    try (Checkpoint c = open(Optional.of(Fp8Scheme.PUBLISHED))) {
      assertEquals(1f, c.tensor(W, 3, 5).scale().orElseThrow().at(2, 4));
    }
  }

  @Test
  void refusesAMissingScale() {
    put(W, DType.F8_E4M3, new long[] {3, 5}, new byte[15]);
    assertEquals("tensor " + W + " in " + dir.resolve("model.safetensors") + " has dtype F8_E4M3 but its scale " + S
        + " is missing; expected an F32 or BF16 tensor of shape [2, 2]", refusal(Optional.of(BLOCKS_2x4)));
  }

  @Test
  void refusesAScaleOfTheWrongShapeNamingTheBlockSize() {
    put(W, DType.F8_E4M3, new long[] {3, 5}, new byte[15]);
    put(S, DType.F32, new long[] {1, 1}, f32(1));
    assertEquals("scale " + S + " in " + dir.resolve("model.safetensors") + " has shape [1, 1]; expected [2, 2]: "
        + "weight [3, 5] in 2×4 blocks (quantization_config.weight_block_size [2, 4])",
        refusal(Optional.of(BLOCKS_2x4)));
  }

  @Test
  void refusesAScaleDtypeOtherThanF32OrBf16() {
    put(W, DType.F8_E4M3, new long[] {3, 5}, new byte[15]);
    put(S, DType.F16, new long[] {1, 1}, new byte[2]);
    assertTrue(refusal(Optional.of(Fp8Scheme.PUBLISHED)).endsWith("has dtype F16; expected F32 or BF16"));
  }

  @Test
  void refusesAScaleBesideAnUnquantizedWeight() {
    put(W, DType.BF16, new long[] {3, 5}, new byte[30]);
    put(S, DType.F32, new long[] {1, 1}, f32(1));
    assertEquals("tensor " + S + " in " + dir.resolve("model.safetensors") + " is a block scale, but its weight " + W
        + " has dtype BF16; expected an F8_E4M3 weight beside each *_scale_inv", refusal(Optional.empty()));
  }

  @Test
  void refusesFp8WithoutAQuantizationConfig() {
    validWeight();
    assertEquals("tensor " + W + " in " + dir.resolve("model.safetensors") + " has dtype F8_E4M3, but " + dir
        + "/config.json has no quantization_config; an FP8 checkpoint needs {\"quant_method\": \"fp8\", "
        + "\"weight_block_size\": [rows, cols]}", refusal(Optional.empty()));
  }

  @Test
  void refusesFp8InAModuleToNotConvert() {
    validWeight();
    String m = refusal(Optional.of(new Fp8Scheme(2, 4, List.of("lm_head", "model.layers.0.mlp.down_proj"))));
    assertTrue(m.endsWith("has dtype F8_E4M3, but quantization_config.modules_to_not_convert [lm_head, "
        + "model.layers.0.mlp.down_proj] says its module stays unquantized"), m);
  }

  @Test
  void refusesAOneDimensionalFp8Tensor() {
    put(W, DType.F8_E4M3, new long[] {15}, new byte[15]);
    put(S, DType.F32, new long[] {1}, f32(1));
    assertTrue(refusal(Optional.of(Fp8Scheme.PUBLISHED)).endsWith("has dtype F8_E4M3 and shape [15]; expected a 2-D "
        + "(rows, cols) weight"));
  }

  @Test
  void refusesNanInfiniteAndNegativeScalesNamingTheBlock() {
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, -0.5f}) {
      tensors.clear();
      put(W, DType.F8_E4M3, new long[] {3, 5}, new byte[15]);
      put(S, DType.F32, new long[] {2, 2}, f32(1, 1, bad, 1));
      assertEquals("scale " + S + " in " + dir.resolve("model.safetensors") + " holds " + bad + " at block (1, 0); "
          + "expected finite scales >= 0", refusal(Optional.of(BLOCKS_2x4)));
    }
  }

  @Test
  void aZeroScaleIsAccepted() throws IOException {
    put(W, DType.F8_E4M3, new long[] {3, 5}, new byte[15]);
    put(S, DType.F32, new long[] {1, 1}, f32(0));
    try (Checkpoint c = open(Optional.of(Fp8Scheme.PUBLISHED))) {
      assertEquals(0f, c.tensor(W, 3, 5).scale().orElseThrow().at(0, 0));
    }
  }

  @Test
  void refusesTheNanCodeWhenDequantizing() throws IOException {
    byte[] q = new byte[15];
    q[7] = (byte) 0xff;
    put(W, DType.F8_E4M3, new long[] {3, 5}, q);
    put(S, DType.F32, new long[] {1, 1}, f32(1));
    try (Checkpoint c = open(Optional.of(Fp8Scheme.PUBLISHED))) {
      TensorSlice t = c.tensor(W, 3, 5);
      ModelLoadException e = assertThrows(ModelLoadException.class,
          () -> Widening.toFloat32(t, 0, 15, FloatBuffer.allocate(15)));
      assertEquals("tensor " + W + " in " + dir.resolve("model.safetensors") + " holds the FP8 NaN code 0xff at "
          + "(1, 2); expected finite weights", e.getMessage());
    }
  }

  @Test
  void aSafetensorsFileAloneDoesNotMapFp8WithoutItsScale() throws IOException {
    validWeight();
    open(Optional.of(BLOCKS_2x4)).close();
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
      assertTrue(assertThrows(ModelLoadException.class, () -> f.tensor(W)).getMessage()
          .endsWith("an F8_E4M3 tensor is read with its _scale_inv scale, through Checkpoint.tensor"));
    }
  }
}

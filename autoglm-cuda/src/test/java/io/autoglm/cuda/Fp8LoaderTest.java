package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.safetensors.BlockScale;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Weights (and MoE expert stacks) whose parts mix FP8 and unquantized tensors, as real FP8 checkpoints have them:
 * {@link Fp8Loader#oneForm} brings them to one form, checked against the core codec's own dequantization
 * ({@link Fp8.Quantized#dequantized}) rounded to bf16 by the IEEE rule, computed here independently.
 */
class Fp8LoaderTest {
  private static final Path FILE = Path.of("model.safetensors");
  private final SplittableRandom random = new SplittableRandom(11);

  private float[] weights(int n) {
    float[] w = new float[n];
    for (int i = 0; i < n; i++) {
      w[i] = (float) (random.nextGaussian() * (i % 7 == 0 ? 3 : 0.02));
    }
    return w;
  }

  /** An F8_E4M3 tensor quantized by the core codec in 16×32 blocks, with its codec record. */
  private record Q(TensorSlice slice, Fp8.Quantized q) {}

  private Q fp8(String name, int rows, int cols) {
    Fp8.Quantized q = Fp8.quantize(name, weights(rows * cols), rows, cols, 16, 32);
    ByteBuffer s = ByteBuffer.allocate(4 * q.scaleInv().length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : q.scaleInv()) {
      s.putFloat(v);
    }
    TensorSlice scale = new TensorSlice(name + "_scale_inv", FILE, DType.F32, new long[] {q.scaleRows(),
        q.scaleCols()}, s.flip());
    return new Q(new TensorSlice(name, FILE, DType.F8_E4M3, new long[] {rows, cols}, ByteBuffer.wrap(q.codes()),
        Optional.of(new BlockScale(scale, 16, 32))), q);
  }

  private TensorSlice bf16(String name, int rows, int cols) {
    ByteBuffer b = ByteBuffer.allocate(2 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : weights(rows * cols)) {
      b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
    }
    return new TensorSlice(name, FILE, DType.BF16, new long[] {rows, cols}, b.flip());
  }

  /** fp32 to bf16, round to nearest even (finite values): the reference rule, written out. */
  private static short roundToBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    int lower = bits & 0xffff;
    int upper = bits >>> 16;
    if (lower > 0x8000 || lower == 0x8000 && (upper & 1) == 1) {
      upper++;
    }
    return (short) upper;
  }

  @Test
  void expertsMixingFp8AndBf16LoadWithTheFp8OnesDequantizedToBf16() {
    Fp8Loader loader = new Fp8Loader(0, bytes -> {
      throw new AssertionError("oneForm takes no device memory");
    }, false);
    Q gate = fp8("model.layers.1.mlp.experts.0.gate_proj.weight", 40, 64);
    Q up = fp8("model.layers.1.mlp.experts.0.up_proj.weight", 40, 64);
    TensorSlice gate1 = bf16("model.layers.1.mlp.experts.1.gate_proj.weight", 40, 64);
    List<TensorSlice> parts = List.of(gate.slice(), up.slice(), gate1);
    List<TensorSlice> one = loader.oneForm(parts, "experts' gate/up of layer 1", true);
    assertEquals(3, one.size());
    assertSame(gate1, one.get(2), "the unquantized part passes through");
    assertFalse(loader.wantsFp8(one, true), "one form: bf16");
    for (int i = 0; i < 2; i++) {
      Fp8.Quantized q = (i == 0 ? gate : up).q();
      TensorSlice d = one.get(i);
      assertEquals(DType.BF16, d.dtype());
      assertEquals(parts.get(i).name(), d.name());
      for (int r = 0; r < 40; r++) {
        for (int c = 0; c < 64; c++) {
          short expected = roundToBf16(q.dequantized(r, c));
          assertEquals(expected, d.data().getShort(2 * (r * 64 + c)), d.name() + " (" + r + ", " + c + ")");
        }
      }
    }
  }

  @Test
  void weightsInOneFormStayAsTheyAre() {
    Fp8Loader loader = new Fp8Loader(0, bytes -> 0, false);
    List<TensorSlice> allFp8 = List.of(fp8("a.weight", 32, 32).slice(), fp8("b.weight", 16, 32).slice());
    assertSame(allFp8, loader.oneForm(allFp8, "a", true));
    assertTrue(loader.wantsFp8(allFp8, true));
    List<TensorSlice> none = List.of(bf16("a.weight", 32, 32), bf16("b.weight", 16, 32));
    assertSame(none, loader.oneForm(none, "a", true));
    assertFalse(loader.wantsFp8(none, true));
  }

  @Test
  void underQuantizationAtLoadTheUnquantizedPartsAreQuantizedBesideTheFp8Ones() {
    Fp8Loader loader = new Fp8Loader(0, bytes -> 0, true);
    List<TensorSlice> mixed = List.of(fp8("model.layers.0.self_attn.q_proj.weight", 32, 32).slice(),
        bf16("model.layers.0.self_attn.k_proj.weight", 16, 32));
    assertSame(mixed, loader.oneForm(mixed, "qkv", true), "kept: quantization at load takes the bf16 part");
    assertTrue(loader.wantsFp8(mixed, true));
    // a part that quantization cannot take (24 columns) makes the FP8 ones bf16 instead
    List<TensorSlice> odd = List.of(fp8("x.weight", 16, 24 + 8).slice(), bf16("model.layers.0.mlp.down_proj.weight",
        16, 24));
    List<TensorSlice> one = loader.oneForm(List.of(odd.get(0), bf16("y.weight", 8, 32), odd.get(1)), "odd", true);
    assertTrue(one.stream().allMatch(p -> p.dtype() == DType.BF16), one.toString());
    // and a weight that is not linear is never quantized at load: its FP8 parts become bf16
    assertTrue(loader.oneForm(mixed, "not linear", false).stream().allMatch(p -> p.dtype() == DType.BF16));
  }
}

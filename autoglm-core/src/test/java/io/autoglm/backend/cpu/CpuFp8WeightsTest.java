package io.autoglm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoglm.backend.BackendOptions;
import io.autoglm.safetensors.BlockScale;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's FP8 weights, large enough (over 2^18 elements) for the parallel conversion: an FP8 weight loads
 * as code × scale element by element, and with {@code autoglm.quantization=fp8} a linear weight loads as
 * {@link Fp8#quantize} of the whole tensor, dequantized, while a non-linear one stays exact. Each runs with the
 * real staging size (one chunk) and with 4096-element chunks (74 chunks; 128-row chunks for the round trip).
 */
class CpuFp8WeightsTest {
  private static final int ROWS = 300; // 3 block rows, the last of 44
  private static final int COLS = 1000; // 8 block columns, the last of 104
  private static final int[] STAGING = {CpuWeights.STAGING_ELEMENTS, 4096};

  private static float[] values() {
    SplittableRandom r = new SplittableRandom(3);
    float[] w = new float[ROWS * COLS];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (r.nextGaussian() * 0.02 * (1 + i % 7));
    }
    return w;
  }

  private static TensorSlice f32(String name, float[] w) {
    ByteBuffer b = ByteBuffer.allocateDirect(w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(w);
    return new TensorSlice(name, Path.of("mem"), DType.F32, new long[] {ROWS, COLS}, b);
  }

  private static TensorSlice bf16(String name, float[] w) {
    ByteBuffer b = ByteBuffer.allocateDirect(w.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : w) {
      b.putShort(Widening.floatToBf16(x));
    }
    return new TensorSlice(name, Path.of("mem"), DType.BF16, new long[] {ROWS, COLS}, b.flip());
  }

  private static float[] array(io.autoglm.backend.Tensor t) {
    return DjlCpuBackend.nd(t).toFloatArray();
  }

  @Test
  void anFp8WeightLoadsAsCodeTimesScale() {
    float[] w = values();
    Fp8.Quantized q = Fp8.quantize("w", w, ROWS, COLS, 128, 128);
    ByteBuffer scales = ByteBuffer.allocateDirect(q.scaleInv().length * 4).order(ByteOrder.LITTLE_ENDIAN);
    scales.asFloatBuffer().put(q.scaleInv());
    TensorSlice scale = new TensorSlice("w_scale_inv", Path.of("mem"), DType.F32,
        new long[] {q.scaleRows(), q.scaleCols()}, scales);
    TensorSlice fp8 = new TensorSlice("w", Path.of("mem"), DType.F8_E4M3, new long[] {ROWS, COLS},
        ByteBuffer.allocateDirect(w.length).put(q.codes()).flip(), Optional.of(new BlockScale(scale, 128, 128)));
    float[] expected = new float[w.length];
    for (int i = 0; i < w.length; i++) {
      expected[i] = Fp8.decode(q.codes()[i]) * q.scaleInv()[(i / COLS / 128) * q.scaleCols() + (i % COLS) / 128];
    }
    for (int staging : STAGING) {
      try (DjlCpuBackend b = new DjlCpuBackend(BackendOptions.defaults(), staging)) {
        assertArrayEquals(expected, array(b.weight(fp8)), "staging " + staging);
        assertArrayEquals(expected, array(b.linearWeight(List.of(fp8))), "staging " + staging);
      }
    }
  }

  @Test
  void quantizingAtLoadRoundTripsLinearsOnly() {
    float[] w = values();
    Fp8.Quantized q = Fp8.quantize("w", w, ROWS, COLS, 128, 128);
    float[] roundTrip = new float[w.length];
    for (int i = 0; i < w.length; i++) {
      roundTrip[i] = q.dequantized(i / COLS, i % COLS);
    }
    BackendOptions fp8 = new BackendOptions(List.of(), 0.9, Map.of(BackendOptions.QUANTIZATION, "fp8"));
    for (int staging : STAGING) {
      try (DjlCpuBackend b = new DjlCpuBackend(fp8, staging)) {
        assertArrayEquals(roundTrip, array(b.linearWeight(List.of(f32("w", w)))), "staging " + staging);
        assertArrayEquals(w, array(b.weight(f32("w", w))), "a non-linear weight is not quantized");
        float[] widened = new float[w.length];
        Widening.toFloat32(bf16("w", w), 0, w.length, java.nio.FloatBuffer.wrap(widened));
        assertArrayEquals(widened, array(b.fusedWeight(List.of(bf16("w", w)))), "staging " + staging);
        float[] both = new float[2 * w.length]; // [bf16 round-tripped | f32 round-tripped]: rows of two blocks
        Fp8.Quantized qb = Fp8.quantize("w", widened, ROWS, COLS, 128, 128);
        for (int i = 0; i < w.length; i++) {
          both[i] = qb.dequantized(i / COLS, i % COLS);
          both[w.length + i] = roundTrip[i];
        }
        assertArrayEquals(both, array(b.linearWeight(List.of(bf16("w", w), f32("w", w)))), "staging " + staging);
      }
    }
    try (DjlCpuBackend b = new DjlCpuBackend()) {
      assertArrayEquals(w, array(b.linearWeight(List.of(f32("w", w)))), "without the property nothing changes");
    }
    assertEquals("backend property autoglm.quantization is int8; the cpu (DJL) backend quantizes to fp8 only (int8 is the "
        + "cpu-native backend's, module autoglm-cpu)",
        assertThrows(IllegalArgumentException.class, () -> new DjlCpuBackend(new BackendOptions(List.of(), 0.9,
            Map.of(BackendOptions.QUANTIZATION, "int8")))).getMessage());
  }
}

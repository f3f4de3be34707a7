package io.autoglm.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.cpu.NativeCpuBackend.NativeWeight;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The linear kernels of each dispatch level against a Java reference in double precision: quantization at load
 * bit for bit as GGUF's Q8_0 reference quantizer, products of the stored weights for every tail of K, N and M, and
 * the same bits for a row computed alone or among others.
 */
class KernelTest {
  private static final int[][] SHAPES = {{1, 64, 5}, {3, 160, 13}, {5, 96, 4}, {16, 1056, 9}, {37, 2080, 7},
      {4, 33, 3}, {17, 1000, 6}};

  private static NativeCpuBackend backend(String level, boolean int8, int gemmRows) {
    NativeCpuBackendProvider p = new NativeCpuBackendProvider();
    assumeTrue(p.isAvailable(), p::unavailableReason);
    assumeTrue(NativeCpuBackendProvider.levelAvailable(level), () -> "this CPU lacks kernel level " + level);
    Map<String, String> props = new HashMap<>();
    props.put(CpuSettings.LEVEL, level);
    props.put(CpuSettings.THREADS, "2");
    props.put(CpuSettings.BF16_GEMM_MIN_ROWS, Integer.toString(gemmRows));
    props.put(BackendOptions.QUANTIZATION, int8 ? "int8" : "none");
    return (NativeCpuBackend) p.create(new BackendOptions(List.of(), 1.0, props));
  }

  private static TensorSlice f32(String name, float[] values, long... shape) {
    ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return new TensorSlice(name, Path.of("test"), DType.F32, shape, b);
  }

  private static float[] random(SplittableRandom r, int n, double scale) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (r.nextGaussian() * scale);
    }
    return out;
  }

  /** GGUF's quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d) (half away from zero), d as fp16. */
  static float[] q8Reference(float[] row) {
    float[] out = new float[row.length];
    for (int b = 0; b < row.length / 32; b++) {
      float amax = 0;
      for (int j = 0; j < 32; j++) {
        amax = Math.max(amax, Math.abs(row[32 * b + j]));
      }
      float d = amax / 127.0f;
      float id = d != 0 ? 1.0f / d : 0;
      float dh = toHalfPrecision(d);
      for (int j = 0; j < 32; j++) {
        float v = row[32 * b + j] * id;
        float q = Math.signum(v) * (float) Math.floor(Math.abs(v) + 0.5f);
        out[32 * b + j] = dh * q;
      }
    }
    return out;
  }

  /** d rounded to the nearest fp16 value, ties to even (Math.rint on the fp16 quantum at d's exponent). */
  private static float toHalfPrecision(float d) {
    int e = Math.max(Math.getExponent(d), -14);
    double quantum = Math.scalb(1.0, e - 10);
    return (float) (Math.rint(d / quantum) * quantum);
  }

  @ParameterizedTest
  @ValueSource(strings = {"avx512", "avx2", "scalar"})
  void int8WeightsAreGgufQ8ZeroBitForBit(String level) {
    SplittableRandom r = new SplittableRandom(7);
    try (NativeCpuBackend b = backend(level, true, 16)) {
      float[] w = random(r, 9 * 96, 0.05);
      w[5] = 0; // a block with exact halves and a zero
      for (int j = 32; j < 64; j++) {
        w[j] = (j - 48) * 0.5f;
      }
      NativeWeight nw = (NativeWeight) b.weight(f32("w", w, 9, 96));
      assertEquals(NativeCpuBackend.Q8, nw.format());
      float[] row = new float[96];
      for (int n = 0; n < 9; n++) {
        CpuNative.weightRow(nw.handle(), n, row);
        float[] src = java.util.Arrays.copyOfRange(w, n * 96, (n + 1) * 96);
        assertArrayEquals(q8Reference(src), row, 0f, "row " + n);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"avx512", "avx2", "scalar"})
  void linearMatchesADoubleReferenceForBf16AndInt8(String level) {
    for (boolean int8 : new boolean[] {false, true}) {
      for (int gemmRows : new int[] {16, 0}) {
        try (NativeCpuBackend b = backend(level, int8, gemmRows)) {
          for (int[] s : SHAPES) {
            check(b, s[0], s[1], s[2], level + (int8 ? " int8" : " bf16") + " gemmRows " + gemmRows);
          }
        }
      }
    }
  }

  private static void check(NativeCpuBackend b, int m, int k, int n, String what) {
    SplittableRandom r = new SplittableRandom(m * 1000L + k * 10L + n);
    float[] w = random(r, n * k, 0.1);
    float[] bias = random(r, n, 0.1);
    float[] x = random(r, m * k, 1.0);
    NativeWeight nw = (NativeWeight) b.weight(f32("w", w, n, k));
    Tensor nb = b.weight(f32("b", bias, n));
    boolean dp = nw.format() == NativeCpuBackend.BF16 && b.level().equals("avx512") && m >= 16
        && !what.endsWith("gemmRows 0");
    float[][] deq = new float[n][k];
    for (int j = 0; j < n; j++) {
      CpuNative.weightRow(nw.handle(), j, deq[j]);
    }
    try (KvCache kv = b.allocateKv(new KvLayout(1, 8, 16, 1, 16)); ForwardStep step = b.begin(batch(m), kv)) {
      float[][] got = step.toHost(step.linear(step.fromHost(x, m, k), nw, nb));
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double want = bias[j];
          double mag = Math.abs(bias[j]);
          for (int c = 0; c < k; c++) {
            float xv = dp ? bf16(x[i * k + c]) : x[i * k + c];
            want += (double) xv * deq[j][c];
            mag += Math.abs((double) xv * deq[j][c]);
          }
          double err = Math.abs(got[i][j] - want);
          assertTrue(err <= 1e-5 * mag + 1e-6, String.format("%s (%d×%d)·(%d×%d)ᵀ [%d][%d]: %.7g vs %.7g", what, m,
              k, n, k, i, j, got[i][j], want));
        }
      }
      if (!dp) { // each row alone gives the same bits
        for (int i = 0; i < m; i += Math.max(1, m / 3)) {
          float[] one = java.util.Arrays.copyOfRange(x, i * k, (i + 1) * k);
          float[][] alone = step.toHost(step.linear(step.fromHost(one, 1, k), nw, nb));
          assertArrayEquals(got[i], alone[0], 0f, what + " row " + i + " alone vs among " + m);
        }
      }
    }
  }

  private static float bf16(float f) {
    int u = Float.floatToRawIntBits(f);
    u += 0x7fff + ((u >>> 16) & 1);
    return Float.intBitsToFloat(u & 0xffff0000);
  }

  private static StepBatch batch(int tokens) {
    int[] ids = new int[tokens];
    int[] pos = new int[tokens];
    int[] slots = new int[tokens];
    for (int i = 0; i < tokens; i++) {
      pos[i] = i;
      slots[i] = i;
    }
    int[] blocks = java.util.stream.IntStream.range(0, (tokens + 15) / 16).toArray();
    return new StepBatch(ids, pos, slots, List.of(new StepBatch.Sequence(0, tokens, tokens, blocks)));
  }

  @Test
  void badSettingsAndShapesFailWithASentence() {
    NativeCpuBackendProvider p = new NativeCpuBackendProvider();
    assumeTrue(p.isAvailable(), p::unavailableReason);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.create(new BackendOptions(
        List.of(), 1.0, Map.of(BackendOptions.QUANTIZATION, "fp8"))));
    assertTrue(e.getMessage().contains("fp8") && e.getMessage().contains("int8"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> p.create(new BackendOptions(List.of(), 1.0,
        Map.of(CpuSettings.THREADS, "0"))));
    assertTrue(e.getMessage().contains(CpuSettings.THREADS + " = 0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> p.create(new BackendOptions(List.of(), 1.0,
        Map.of(CpuSettings.LEVEL, "neon"))));
    assertTrue(e.getMessage().contains("neon"), e.getMessage());
    try (NativeCpuBackend b = backend("scalar", false, 16); KvCache kv = b.allocateKv(new KvLayout(1, 8, 16, 1, 16));
        ForwardStep step = b.begin(batch(2), kv)) {
      Tensor w = b.weight(f32("w", new float[6 * 4], 6, 4));
      Tensor x = step.fromHost(new float[2 * 5], 2, 5);
      e = assertThrows(IllegalArgumentException.class, () -> step.linear(x, w));
      assertTrue(e.getMessage().contains("(2, 5)") && e.getMessage().contains("[6, 4]"), e.getMessage());
      StepBatch outside = new StepBatch(new int[] {1}, new int[] {0}, new int[] {999},
          List.of(new StepBatch.Sequence(0, 1, 1, new int[] {0})));
      e = assertThrows(IllegalArgumentException.class, () -> b.begin(outside, kv));
      assertTrue(e.getMessage().contains("slot 999"), e.getMessage());
    }
  }
}

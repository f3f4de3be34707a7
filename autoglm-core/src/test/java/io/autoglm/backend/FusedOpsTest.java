package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.cpu.DjlCpuBackend;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The fused ops the decoder uses since q/k/v became one projection — {@code columns}, {@code linearSiluMul},
 * {@code ropeQWriteKv}, {@code addRmsNormLinearSiluMul}, {@code addRmsNormQkvRope} — against the separate ops they
 * stand for, on the CPU backend (GPU backends check their
 * kernels against the same separate ops on the device).
 */
class FusedOpsTest {
  private static final int TOKENS = 3;

  private static StepBatch threeTokens() {
    return new StepBatch(new int[] {5, 6, 7}, new int[] {0, 1, 2}, new int[] {16, 17, 18},
        List.of(new StepBatch.Sequence(0, 3, 3, new int[] {1})));
  }

  private static float[] random(SplittableRandom r, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return x;
  }

  private static float[] flat(float[][] rows) {
    int n = rows[0].length;
    float[] out = new float[rows.length * n];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(rows[i], 0, out, i * n, n);
    }
    return out;
  }

  @Test
  void columnsAreTheColumnRangesAndRejectRangesOutsideTheTensor() {
    SplittableRandom r = new SplittableRandom(1);
    float[] x = random(r, TOKENS * 10);
    try (DjlCpuBackend b = new DjlCpuBackend();
        KvCache kv = b.allocateKv(new KvLayout(1, 4, 16, 1, 4));
        ForwardStep s = b.begin(threeTokens(), kv)) {
      Tensor t = s.fromHost(x, TOKENS, 10);
      float[][] cols = s.toHost(s.columns(t, 6, 4));
      for (int row = 0; row < TOKENS; row++) {
        for (int c = 0; c < 4; c++) {
          assertEquals(x[row * 10 + 6 + c], cols[row][c], 0f);
        }
      }
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.columns(t, 8, 4));
      assertTrue(e.getMessage().contains("columns [8, 12) of a tensor with 10"), e.getMessage());
    }
  }

  @Test
  void linearSiluMulEqualsLinearThenSiluMul() {
    SplittableRandom r = new SplittableRandom(2);
    float[] x = random(r, TOKENS * 8);
    float[] w = random(r, 12 * 8); // [gate | up], intermediate 6
    try (DjlCpuBackend b = new DjlCpuBackend();
        KvCache kv = b.allocateKv(new KvLayout(1, 4, 16, 1, 4));
        ForwardStep s = b.begin(threeTokens(), kv)) {
      Tensor xt = s.fromHost(x, TOKENS, 8);
      Tensor wt = s.fromHost(w, 12, 8);
      assertArrayEquals(flat(s.toHost(s.siluMul(s.linear(xt, wt)))), flat(s.toHost(s.linearSiluMul(xt, wt))), 0f);
    }
  }

  @Test
  void ropeQWriteKvEqualsRopeThenRopeWriteKvOnColumnsOfOneProjection() {
    SplittableRandom r = new SplittableRandom(3);
    int heads = 2;
    int kvHeads = 1;
    int headDim = 4;
    RopeSpec rope = new RopeSpec(headDim, headDim / 2, 10000f, true);
    float[] qkv = random(r, TOKENS * (heads + 2 * kvHeads) * headDim);
    int width = (heads + 2 * kvHeads) * headDim;
    float[][] fusedQ;
    float[][] separateQ;
    try (DjlCpuBackend b = new DjlCpuBackend();
        KvCache kvA = b.allocateKv(new KvLayout(1, 4, 16, kvHeads, headDim));
        KvCache kvB = b.allocateKv(new KvLayout(1, 4, 16, kvHeads, headDim))) {
      try (ForwardStep s = b.begin(threeTokens(), kvA)) {
        Tensor t = s.fromHost(qkv, TOKENS, width);
        Tensor q = s.columns(t, 0, heads * headDim);
        Tensor k = s.columns(t, heads * headDim, kvHeads * headDim);
        Tensor v = s.columns(t, (heads + kvHeads) * headDim, kvHeads * headDim);
        fusedQ = s.toHost(s.ropeQWriteKv(0, q, heads, k, v, kvHeads, rope));
      }
      try (ForwardStep s = b.begin(threeTokens(), kvB)) {
        Tensor t = s.fromHost(qkv, TOKENS, width);
        separateQ = s.toHost(s.rope(s.columns(t, 0, heads * headDim), heads, rope));
        s.ropeWriteKv(0, s.columns(t, heads * headDim, kvHeads * headDim),
            s.columns(t, (heads + kvHeads) * headDim, kvHeads * headDim), kvHeads, rope);
      }
      assertArrayEquals(flat(separateQ), flat(fusedQ), 0f);
      // the cache holds the same K and V: attention of the rotated q over it agrees
      float[][] attA;
      float[][] attB;
      try (ForwardStep s = b.begin(threeTokens(), kvA)) {
        attA = s.toHost(s.attention(0, s.fromHost(flat(fusedQ), TOKENS, heads * headDim), heads, 0.5f));
      }
      try (ForwardStep s = b.begin(threeTokens(), kvB)) {
        attB = s.toHost(s.attention(0, s.fromHost(flat(separateQ), TOKENS, heads * headDim), heads, 0.5f));
      }
      assertArrayEquals(flat(attB), flat(attA), 0f);
    }
  }

  @Test
  void addRmsNormLinearSiluMulEqualsAddRmsNormThenLinearThenSiluMul() {
    SplittableRandom r = new SplittableRandom(4);
    float[] a = random(r, TOKENS * 8);
    float[] d = random(r, TOKENS * 8);
    float[] norm = random(r, 8);
    float[] w = random(r, 12 * 8);
    try (DjlCpuBackend b = new DjlCpuBackend();
        KvCache kv = b.allocateKv(new KvLayout(1, 4, 16, 1, 4));
        ForwardStep s = b.begin(threeTokens(), kv)) {
      Tensor at = s.fromHost(a, TOKENS, 8);
      Tensor dt = s.fromHost(d, TOKENS, 8);
      Tensor nt = s.fromHost(norm, 1, 8);
      Tensor wt = s.fromHost(w, 12, 8);
      ForwardStep.ResidualProjection fused = s.addRmsNormLinearSiluMul(at, dt, s.rows(nt, new int[] {0}), 1e-5f, wt);
      Tensor sum = s.add(at, dt);
      Tensor normed = s.rmsNorm(sum, s.rows(nt, new int[] {0}), 1e-5f);
      assertArrayEquals(flat(s.toHost(sum)), flat(s.toHost(fused.sum())), 0f);
      assertArrayEquals(flat(s.toHost(s.siluMul(s.linear(normed, wt)))), flat(s.toHost(fused.out())), 0f);
    }
  }

  /**
   * The fused attention input against its meaning written with separate q, k and v weights: the fused QKV weight's
   * rows are q, then k, then v, and the bias follows them.
   */
  @Test
  void addRmsNormQkvRopeEqualsSeparateProjectionsThenRopeAndCacheWrite() {
    SplittableRandom r = new SplittableRandom(5);
    int heads = 2;
    int kvHeads = 1;
    int headDim = 4;
    int hidden = 6;
    int rows = (heads + 2 * kvHeads) * headDim;
    RopeSpec rope = new RopeSpec(headDim, headDim / 2, 10000f, true);
    float[] a = random(r, TOKENS * hidden);
    float[] d = random(r, TOKENS * hidden);
    float[] norm = random(r, hidden);
    float[] w = random(r, rows * hidden);
    float[] bias = random(r, rows);
    float[][] fusedQ;
    float[][] fusedSum;
    float[][] separateQ;
    float[][] separateSum;
    try (DjlCpuBackend b = new DjlCpuBackend();
        KvCache kvA = b.allocateKv(new KvLayout(1, 4, 16, kvHeads, headDim));
        KvCache kvB = b.allocateKv(new KvLayout(1, 4, 16, kvHeads, headDim))) {
      try (ForwardStep s = b.begin(threeTokens(), kvA)) {
        ForwardStep.ResidualProjection p = s.addRmsNormQkvRope(0, s.fromHost(a, TOKENS, hidden),
            s.fromHost(d, TOKENS, hidden), s.rows(s.fromHost(norm, 1, hidden), new int[] {0}), 1e-5f,
            s.fromHost(w, rows, hidden), s.rows(s.fromHost(bias, 1, rows), new int[] {0}), heads, kvHeads, rope);
        fusedQ = s.toHost(p.out());
        fusedSum = s.toHost(p.sum());
      }
      try (ForwardStep s = b.begin(threeTokens(), kvB)) {
        Tensor sum = s.add(s.fromHost(a, TOKENS, hidden), s.fromHost(d, TOKENS, hidden));
        Tensor x = s.rmsNorm(sum, s.rows(s.fromHost(norm, 1, hidden), new int[] {0}), 1e-5f);
        Tensor[] proj = new Tensor[3];
        int[] from = {0, heads * headDim, (heads + kvHeads) * headDim};
        int[] width = {heads * headDim, kvHeads * headDim, kvHeads * headDim};
        for (int i = 0; i < 3; i++) {
          float[] wi = java.util.Arrays.copyOfRange(w, from[i] * hidden, (from[i] + width[i]) * hidden);
          float[] bi = java.util.Arrays.copyOfRange(bias, from[i], from[i] + width[i]);
          proj[i] = s.linear(x, s.fromHost(wi, width[i], hidden), s.rows(s.fromHost(bi, 1, width[i]), new int[] {0}));
        }
        separateQ = s.toHost(s.rope(proj[0], heads, rope));
        s.ropeWriteKv(0, proj[1], proj[2], kvHeads, rope);
        separateSum = s.toHost(sum);
      }
      assertArrayEquals(flat(separateSum), flat(fusedSum), 0f);
      assertArrayEquals(flat(separateQ), flat(fusedQ), 1e-6f);
      float[][] attA;
      float[][] attB;
      try (ForwardStep s = b.begin(threeTokens(), kvA)) {
        attA = s.toHost(s.attention(0, s.fromHost(flat(fusedQ), TOKENS, heads * headDim), heads, 0.5f));
      }
      try (ForwardStep s = b.begin(threeTokens(), kvB)) {
        attB = s.toHost(s.attention(0, s.fromHost(flat(separateQ), TOKENS, heads * headDim), heads, 0.5f));
      }
      assertArrayEquals(flat(attB), flat(attA), 1e-6f);
    }
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaGemmTests;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * The self-check of the cuBLASLt GEMM path ({@code cuda.gemm} = lt, lt-tuned) at glm-4-9b's linear shapes, one line
 * per weight shape over every row count of {@link #rows}: cuBLASLt with the heuristic's first algorithm and with the
 * tuned choice against cublasGemmEx on the same random inputs (with bias: the Lt bias epilogue against cublasGemmEx
 * without bias plus the bias added in fp32), and all three against an fp64 dot product at 256 sampled elements.
 *
 * <p>Bounds. Both paths accumulate in fp32 and round once to bf16 (Lt adds the bias in fp32 before that rounding), so
 * an output may differ by the two roundings, half a bf16 ulp each (≤ 2^-8 of the value), plus the difference of
 * fp32 sums in another order (split-K), which is ~√K·2^-24·Σ|x·w|, far below that. Elementwise: |Δ| ≤
 * 2^-8·(|gemmEx| + |Lt|) + 2^-12·max |y|, so max |Δ| ≤ 2^-6·max |y| with margin, and the relative Frobenius error
 * ≤ 1e-2. Against fp64: |Δ| ≤ 2^-8·(|x·w| + |exact|) + 2^-12·Σ|x_k·w_k| (ratio ≤ 1). Run-to-run: the tuned choice
 * twice gives the same bits (cuBLAS's reproducibility guarantee, checked).
 */
final class GemmLtCheck {
  private GemmLtCheck() {}

  /** A glm-4-9b linear: y (rows, out) = x (rows, in)·Wᵀ (+ bias); fp32 out for the logits head. */
  record Shape(String name, int out, int in, boolean bias, boolean f32Out) {
    String label() {
      return String.format(Locale.ROOT, "%s %dx%d%s", name, out, in, bias ? "+bias" : f32Out ? " fp32" : "");
    }

    /** Weights + activations in + out, bytes. */
    double bytes(int rows) {
      return 2.0 * out * in + 2.0 * rows * in + (f32Out ? 4.0 : 2.0) * rows * out + (bias ? 2.0 * out : 0);
    }
  }

  static final List<Shape> SHAPES = List.of(new Shape("qkv", 4608, 4096, true, false),
      new Shape("o_proj", 4096, 4096, false, false), new Shape("gate_up", 27392, 4096, false, false),
      new Shape("down", 4096, 13696, false, false), new Shape("lm_head", 151552, 4096, false, true));
  static final int[] DECODE_ROWS = {9, 16, 32, 64, 128, 256, 512};
  static final int[] PREFILL_ROWS = {1024, 2048};

  /** Decode rows, and the prefill rows except for the logits head (a prefill step's logits are its last rows). */
  static int[] rows(Shape s) {
    return s.f32Out() ? DECODE_ROWS : IntStream.concat(IntStream.of(DECODE_ROWS), IntStream.of(PREFILL_ROWS)).toArray();
  }

  static boolean run(CudaBackend backend) {
    String info = CudaGemmTests.ltInfo(backend);
    if (!info.endsWith("loaded")) {
      System.out.println("cuBLASLt self-check SKIPPED (cuda.gemm=lt* runs cublasGemmEx): " + info.replace('\n', ' '));
      return true;
    }
    boolean ok = true;
    for (Shape s : SHAPES) {
      ok &= shape(backend, s);
    }
    System.out.println("cuBLASLt self-check (" + info + ") " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  /**
   * One line over every row count of the shape: the worst of each measure, and the tuned picks (index/candidates, -1:
   * cublasGemmEx; "none": cuBLASLt offered no algorithm, so cublasGemmEx serves that shape).
   */
  private static boolean shape(CudaBackend backend, Shape s) {
    double[] worst = new double[13];
    StringBuilder picks = new StringBuilder();
    String error = null;
    for (int rows : rows(s)) {
      double[] v = CudaGemmTests.check(backend, rows, s.in(), s.out(), s.bias(), s.f32Out());
      if (v.length == 1 && v[0] == -1) { // not wrong: production runs cublasGemmEx for it (one log line)
        picks.append(picks.length() == 0 ? "" : ",").append("none");
        continue;
      }
      if (v.length == 1) {
        error = String.format(Locale.ROOT, "rows %d: %s", rows, v[0] == -2 ? "out of device memory"
            : "a GEMM call failed");
        break;
      }
      for (int i : new int[] {0, 1, 2, 3, 4, 5, 6, 10, 11, 12}) {
        worst[i] = Double.isNaN(v[i]) ? Double.NaN : Math.max(worst[i], v[i]);
      }
      picks.append(picks.length() == 0 ? "" : ",").append((int) v[7]).append('/').append((int) v[8]);
    }
    boolean pass = error == null && worst[0] <= 1e-2 && worst[1] <= 0x1p-6 && worst[2] == 0 && worst[3] <= 1e-2
        && worst[4] <= 0x1p-6 && worst[5] == 0 && worst[6] == 0 && worst[11] <= 1 && worst[12] <= 1;
    System.out.printf(Locale.ROOT, "cuBLASLt self-check %s %s rows %s: lt0 rel %.1e max|d|/max|y| %.1e outside %d;"
            + " tuned rel %.1e max %.1e outside %d; reruns differing %d; vs fp64 (<=1) gemmEx %.2f lt0 %.2f tuned %.2f;"
            + " tuned picks %s%n", pass ? "PASS" : "FAIL" + (error == null ? "" : " (" + error + ")"), s.label(),
        joined(rows(s)), worst[0], worst[1], (long) worst[2], worst[3], worst[4], (long) worst[5], (long) worst[6],
        worst[10], worst[11], worst[12], picks);
    return pass;
  }

  private static String joined(int[] rows) {
    return rows[0] + ".." + rows[rows.length - 1];
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaSelfTests;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The tensor-core decode attention's self-check ({@link CudaSelfTests#decodeAttentionTc}): every decode step shape ×
 * query heads per KV head (1, 2, 8, 16, 96 over 2 KV heads) × headDim 64 and 128, against the decode kernels (which
 * {@link AttentionSelfCheck} verifies against the CPU reference) and the double-precision CPU reference, with the
 * bound of the prefill-attention check. One line per (headDim, step shape), then a PASS/FAIL summary.
 */
final class DecodeAttnTcSelfCheck {
  static final int[] GROUPS = {1, 2, 8, 16, 96};
  static final int[] HEAD_DIMS = {128, 64};
  private static final String[] CASES = {"batch 1, context 1, one split",
      "batch 3, contexts 1/45/300, 6 static splits of 64", "batch 64, contexts 70-199, 4 graph splits",
      "batch 256, contexts 100-164, one split", "batch 8, contexts 17-4,096, blocks of 32, 64 graph splits",
      "batch 2, contexts 4,096/3,001, blocks of 1, 128 static splits, combine kernel",
      "batch 5, contexts 15-128 at page boundaries, 4 static splits",
      "batch 128, contexts 1-128, blocks of 8, 2 graph splits, combine kernel",
      "batch 256, contexts 100-164, 4 graph splits"};

  private DecodeAttnTcSelfCheck() {}

  static boolean run(CudaBackend backend) {
    return run(backend, "");
  }

  /** {@link #run(CudaBackend)} with {@code label} (e.g. the variant) in the summary line. */
  static boolean run(CudaBackend backend, String label) {
    int cases = CudaSelfTests.decodeTcCases(backend);
    if (cases != CASES.length) {
      throw new IllegalStateException("the native library has " + cases + " decode tensor-core self-check cases, "
          + "this tool describes " + CASES.length);
    }
    boolean ok = true;
    for (int headDim : HEAD_DIMS) {
      for (int which = 0; which < cases; which++) {
        ok &= line(backend, headDim, which);
      }
    }
    System.out.println("decode attention (tensor cores) " + label + "self-check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  private static boolean line(CudaBackend backend, int headDim, int which) {
    double maxOld = 0;
    double worst = 0;
    double maxRef = -1;
    List<String> failed = new ArrayList<>();
    for (int g : GROUPS) {
      double[] r;
      try {
        r = CudaSelfTests.decodeAttentionTc(backend, 2 * g, 2, headDim, which);
      } catch (IllegalStateException e) {
        failed.add(g + " (" + e.getMessage() + ")");
        continue;
      }
      if (r.length == 1) { // refused, although every shape here is one the kernel documents as served
        failed.add(g + " (refused)");
        continue;
      }
      if (r[0] != 0) {
        failed.add(String.format(Locale.ROOT, "%d (%d outside, max|Δ| %.3g)", g, (long) r[0], r[1]));
      }
      maxOld = Math.max(maxOld, r[1]);
      worst = Math.max(worst, r[2]);
      maxRef = Math.max(maxRef, r[4]);
    }
    System.out.printf(Locale.ROOT, "decode attention (tensor cores) self-check headDim %d, %s, per KV head %s: max|Δ| "
            + "vs decode kernels %.3g (worst |Δ|/bound %.2f), vs CPU reference %s  %s%n", headDim, CASES[which],
        Arrays.toString(GROUPS), maxOld, worst,
        maxRef < 0 ? "not run (too large)" : String.format(Locale.ROOT, "%.3g", maxRef),
        failed.isEmpty() ? "PASS" : "FAIL: " + String.join(", ", failed));
    return failed.isEmpty();
  }
}

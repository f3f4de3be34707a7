package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaSelfTests;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The tensor-core GEMV's self-check ({@link CudaSelfTests#gemvTc}): glm-4-9b's GEMV shapes and odd ones (in 8, 136,
 * 264; out 1, 17, 40, not multiples of 16; x with a padded leading dimension) for rows 1..8, against the
 * double-precision CPU reference of the same bf16 inputs and against the in-split GEMV, with one bound for both: the
 * relative Frobenius error at most 2^-7 and max |Δ| at most 2^-6 · max |y| (about two bf16 ulps of the largest
 * output) for bf16 outputs, 1e-4 and 1e-4 · max |y| for fp32 outputs; a rerun equal bit for bit (deterministic); and
 * gate_up with SiLU·mul equal bit for bit to the tensor-core GEMV followed by siluMul. One line per shape.
 */
final class GemvTcSelfCheck {
  /** A checked GEMV: label, in, out (weight rows; 2·inter for SiLU·mul), mode (0 bf16, 1 fp32, 2 SiLU·mul), bias. */
  record Shape(String label, int in, int out, int mode, boolean bias) {}

  static final List<Shape> SHAPES = List.of(new Shape("qkv", 4096, 4608, 0, true), new Shape("o", 4096, 4096, 0, false),
      new Shape("gate_up", 4096, 27392, 0, false), new Shape("gate_up+silu", 4096, 27392, 2, false),
      new Shape("down", 13696, 4096, 0, false), new Shape("lm_head fp32", 4096, 151552, 1, false),
      new Shape("odd", 136, 40, 0, true), new Shape("odd fp32", 136, 40, 1, true),
      new Shape("odd silu", 136, 40, 2, false), new Shape("in 8", 8, 17, 0, true),
      new Shape("in 264", 264, 1, 1, false));
  private static final int FIELDS = 8;

  private GemvTcSelfCheck() {}

  static boolean run(CudaBackend backend) {
    boolean ok = true;
    for (Shape s : SHAPES) {
      ok &= line(backend, s);
    }
    System.out.println("gemvTc self-check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  private static boolean line(CudaBackend backend, Shape s) {
    double[] r = CudaSelfTests.gemvTc(backend, s.in(), s.out(), s.mode(), s.bias());
    String name = String.format(Locale.ROOT, "gemvTc self-check %s %dx%d%s%s", s.label(), s.out(), s.in(),
        s.bias() ? "+bias" : "", s.mode() == 1 ? " fp32" : s.mode() == 2 ? " silu" : "");
    if (r.length != 8 * FIELDS) {
      System.out.println(name + ": " + (r.length == 1 && r[0] == -2 ? "out of device memory" : "declined") + "  FAIL");
      return false;
    }
    double relBound = s.mode() == 1 ? 1e-4 : 0x1p-7;
    double maxBound = s.mode() == 1 ? 1e-4 : 0x1p-6;
    double worstRef = 0;
    double worstOld = 0;
    double worstMax = 0;
    List<String> failed = new ArrayList<>();
    for (int rows = 1; rows <= 8; rows++) {
      int o = FIELDS * (rows - 1);
      double ref = r[o];
      double refMax = r[o + 1] / Math.max(r[o + 2], Double.MIN_NORMAL);
      double old = r[o + 3];
      double oldMax = r[o + 4] / Math.max(r[o + 5], Double.MIN_NORMAL);
      worstRef = Math.max(worstRef, ref);
      worstOld = Math.max(worstOld, old);
      worstMax = Math.max(worstMax, Math.max(refMax, oldMax));
      if (!(ref <= relBound && refMax <= maxBound && old <= relBound && oldMax <= maxBound)) {
        failed.add(String.format(Locale.ROOT, "rows %d outside the bound (ref %.2e / %.2e, gemv2 %.2e / %.2e)", rows,
            ref, refMax, old, oldMax));
      }
      if (r[o + 6] != 0) {
        failed.add(String.format(Locale.ROOT, "rows %d: rerun differs in %d bytes", rows, (long) r[o + 6]));
      }
      if (r[o + 7] != 0) {
        failed.add(String.format(Locale.ROOT, "rows %d: %d outputs differ from TC GEMV + siluMul", rows,
            (long) r[o + 7]));
      }
    }
    System.out.printf(Locale.ROOT, "%s rows 1..8: rel err vs CPU ≤ %.2e, vs gemv2 ≤ %.2e, max|Δ|/max|y| ≤ %.2e "
            + "(bounds %.1e, %.1e); rerun equal%s  %s%n", name, worstRef, worstOld, worstMax, relBound, maxBound,
        s.mode() == 2 ? "; = TC GEMV + siluMul bit for bit" : "", failed.isEmpty() ? "PASS" : "FAIL: "
            + String.join("; ", failed));
    return failed.isEmpty();
  }
}

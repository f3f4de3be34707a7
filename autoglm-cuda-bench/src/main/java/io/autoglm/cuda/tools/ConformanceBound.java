package io.autoglm.cuda.tools;

import io.autoglm.model.ModelConfig;
import java.util.Locale;

/**
 * Bounds on ‖out − ref‖ / ‖ref‖ of the logits of the conformance checks: the fixed bf16 tolerance of {@link CudaBench}
 * verify, and {@link Fp8Check}'s bound on an FP8 checkpoint, measured per fixture from the bf16 run's spread.
 */
final class ConformanceBound {
  /** How far FP8 on CUDA may exceed the bf16 spread of the same fixture and inputs (see {@link Fp8}). */
  static final double SPREAD_FACTOR = 1.5;

  private ConformanceBound() {}

  /**
   * bf16 tolerance on ‖out − ref‖ / ‖ref‖ of the logits against the fp32 references (fixtures README: 1e-3..1e-2 is
   * normal for bf16 compute): 1e-2 for checkpoints stored in bf16; 2e-2 for fp32 checkpoints, whose weights this
   * backend also rounds to bf16 on upload (a second, independent rounding of every weight).
   */
  static double bf16(ModelConfig c) {
    return c.dtype().equals("bfloat16") ? 1e-2 : 2e-2;
  }

  /**
   * The bound on one phase (prefill or decode steps) of an FP8 checkpoint on CUDA against the CPU's dequantized fp32
   * reference: {@code max(fixed, 1.5 × spread)}, {@code spread} the same phase's error of the unquantized checkpoint
   * in bf16 on CUDA against the CPU's fp32 logits of it, on the same inputs (and for MoE under the same routing rule).
   * Both errors come from the device's bf16 activations and fused kernels over weights the CPU holds exactly, so the
   * bf16 spread measures what that costs on this fixture: a tiny fixture (few dims, so rounding errors average less)
   * spreads more than a large one, and a fixed number either fails it or is loose elsewhere. The bf16 spread is itself
   * held to {@code fixed} ({@link #spreadOk}), so the bound is at most 1.5 × the fixed tolerance.
   *
   * @param fixed the fixed tolerance of the phase (CudaBench verify's; prefill 1e-2 more)
   * @param spread the bf16 spread, or NaN where it was not measured (the bound is then {@code fixed})
   * @param bound the bound FP8 is held to
   */
  record Fp8(double fixed, double spread, double bound) {
    Fp8 {
      if (!(fixed > 0) || Double.isInfinite(fixed)) {
        throw new IllegalArgumentException("fixed tolerance " + fixed + ": expected a finite value > 0");
      }
      if (spread < 0 || Double.isInfinite(spread)) {
        throw new IllegalArgumentException("bf16 spread " + spread + ": expected a finite value >= 0, or NaN");
      }
    }

    static Fp8 of(double fixed, double spread) {
      double bound = Double.isNaN(spread) ? fixed : Math.max(fixed, SPREAD_FACTOR * spread);
      return new Fp8(fixed, spread, bound);
    }

    /** The bf16 spread within the fixed tolerance (a larger one is a bf16 failure, not room for FP8). */
    boolean spreadOk() {
      return Double.isNaN(spread) || spread <= fixed;
    }

    boolean holds(double rel) {
      return rel <= bound && spreadOk();
    }

    /** "bound B = max(tol T, 1.5 × bf16 S)". */
    String describe() {
      return String.format(Locale.ROOT, "bound %.2e = max(tol %.0e, %.1f × bf16 %s)%s", bound, fixed, SPREAD_FACTOR,
          Double.isNaN(spread) ? "unmeasured" : String.format(Locale.ROOT, "%.2e", spread),
          spreadOk() ? "" : ", bf16 over its tol");
    }
  }
}

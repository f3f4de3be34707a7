package io.autoglm.cpu;

import io.autoglm.model.ModelConfig;

/**
 * Bounds on the cpu-native backend's logits against the reference (the measured values are in docs/cpu.md), as
 * ‖Δ‖/‖ref‖ over a prompt's rows and as max |Δlogit|.
 */
final class ContractBounds {
  private ContractBounds() {}

  /** int8 (Q8_0-style) weights: measured ≤ 2.2e-2 on the fixtures. */
  static final double INT8_REFERENCE = 3e-2;
  /** Max |Δlogit| of int8 weights (fixture logits have a norm of ~3 per row): measured ≤ 0.07. */
  static final double INT8_MAX_ABS = 0.1;
  /** Max |Δlogit| of bf16 weights: measured ≤ 0.03. */
  static final double BF16_MAX_ABS = 0.05;
  /** Between step layouts that sum every row in the same order: only attention's own order may differ. */
  static final double EXACT_LAYOUT = 1e-6;

  /**
   * bf16 weights: the fixtures' bf16 bound (1e-2) for a bf16 checkpoint; twice it for an fp32 one, whose weights
   * are rounded to bf16 as they load (the CUDA backend's bounds). Measured ≤ 5.6e-3 and ≤ 8.8e-3.
   */
  static double bf16Reference(ModelConfig c) {
    return c.dtype().equals("bfloat16") ? 1e-2 : 2e-2;
  }

  /** Twice the reference bound: each layout is within it of the reference (bf16 activations from 16 rows on). */
  static double bf16Layout(ModelConfig c) {
    return 2 * bf16Reference(c);
  }
}

package io.autoglm.cpu;

import io.autoglm.model.ModelConfig;

/** Bounds on ‖logits − reference‖ / ‖reference‖ of the cpu-native backend (measured values in docs/cpu.md). */
final class ContractBounds {
  private ContractBounds() {}

  static final double INT8_REFERENCE = 5e-2;
  static final double INT8_LAYOUT = 5e-2;
  static final double INT8_MAX_ABS = 0.5;
  static final double BF16_MAX_ABS = 0.2;

  static double bf16Reference(ModelConfig c) {
    return c.dtype().equals("bfloat16") ? 1e-2 : 2e-2;
  }

  static double bf16Layout(ModelConfig c) {
    return 2 * bf16Reference(c);
  }
}

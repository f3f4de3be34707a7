package io.autoglm.cpu;

import io.autoglm.model.ModelConfig;

/** The backend contract with int8 (Q8_0-style) weights on the best kernel level here: see {@link ContractBounds}. */
class ContractInt8Test extends NativeContract {
  @Override
  protected String level() {
    return NativeCpuBackendProvider.bestLevel().orElse("scalar");
  }

  @Override
  protected boolean int8() {
    return true;
  }

  @Override
  protected double referenceTolerance(ModelConfig c) {
    return ContractBounds.INT8_REFERENCE;
  }

  @Override
  protected double layoutTolerance(ModelConfig c) {
    return ContractBounds.EXACT_LAYOUT; // int8 weights always meet fp32 activations: one summation order
  }
}

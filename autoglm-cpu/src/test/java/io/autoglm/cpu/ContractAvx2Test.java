package io.autoglm.cpu;

import io.autoglm.model.ModelConfig;

/** The backend contract on the avx2 kernels, bf16 weights: see {@link ContractBounds}. */
class ContractAvx2Test extends NativeContract {
  @Override
  protected String level() {
    return "avx2";
  }

  @Override
  protected double referenceTolerance(ModelConfig c) {
    return ContractBounds.bf16Reference(c);
  }

  @Override
  protected double layoutTolerance(ModelConfig c) {
    return ContractBounds.bf16Layout(c);
  }
}

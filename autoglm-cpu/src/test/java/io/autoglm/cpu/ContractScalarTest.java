package io.autoglm.cpu;

import io.autoglm.model.ModelConfig;

/** The backend contract on the scalar kernels, bf16 weights: see {@link ContractBounds}. */
class ContractScalarTest extends NativeContract {
  @Override
  protected String level() {
    return "scalar";
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

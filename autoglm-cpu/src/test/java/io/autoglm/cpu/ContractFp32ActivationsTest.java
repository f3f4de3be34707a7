package io.autoglm.cpu;

import io.autoglm.model.ModelConfig;

/**
 * The backend contract with fp32 activations for every row count (bf16 weights, {@code bf16GemmMinRows=0}) on the
 * best level: each output row is then summed in the same order whatever the batch, so batched, paged and chunked
 * steps give the single step's logits to {@link ContractBounds#EXACT_LAYOUT}.
 */
class ContractFp32ActivationsTest extends NativeContract {
  @Override
  protected String level() {
    return NativeCpuBackendProvider.bestLevel().orElse("scalar");
  }

  @Override
  protected int bf16GemmMinRows() {
    return 0;
  }

  @Override
  protected double referenceTolerance(ModelConfig c) {
    return ContractBounds.bf16Reference(c);
  }

  @Override
  protected double layoutTolerance(ModelConfig c) {
    return ContractBounds.EXACT_LAYOUT;
  }
}

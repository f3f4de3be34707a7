package io.autoglm;

import io.autoglm.model.ModelConfig;
import io.autoglm.model.MoeConfig;

/**
 * An upper estimate of the activation memory of one engine step, handed to the backend as a property so that a
 * backend with a fixed per-step arena (CUDA) sizes it for the engine's {@code maxBatchTokens} rather than failing the
 * step. Every layer's activations are counted as live at once (a bump allocator frees them only at the step's end),
 * in 2-byte elements: per token and layer, the norms, residual sums and projections (6 x hidden), q/k/v and their
 * rotated copy (2 x (heads + 2 x KV heads) x headDim), and the MLP's gate-up, product and input (3 x intermediate) or,
 * in a MoE layer, each routed and shared expert's copy of the same plus its router logits in fp32; then fp32 logits
 * for at most one row per running sequence.
 */
final class StepSize {
  /** The backend property that carries the estimate, in bytes. */
  static final String PROPERTY = "autoglm.stepActivationBytes";

  private StepSize() {}

  static long activationBytes(ModelConfig c, int maxBatchTokens, int maxRunningSequences) {
    long qkv = (long) (c.numHeads() + 2L * c.numKvHeads()) * c.headDim();
    long perLayerToken = 6L * c.hiddenSize() + 2 * qkv;
    long dense = 3L * c.intermediateSize();
    long perToken = 0;
    for (int layer = 0; layer < c.numLayers(); layer++) {
      long mlp = dense;
      if (c.moe().isPresent() && c.moe().get().isMoeLayer(layer)) {
        MoeConfig m = c.moe().get();
        long experts = (long) m.numExpertsPerToken() + m.numSharedExperts();
        mlp = experts * (2L * c.hiddenSize() + 3L * m.moeIntermediateSize()) + 2L * m.numRoutedExperts();
      }
      perToken += 2 * (perLayerToken + mlp);
    }
    long logits = 4L * c.vocabSize() * Math.min(maxBatchTokens, maxRunningSequences);
    return maxBatchTokens * perToken + logits;
  }
}

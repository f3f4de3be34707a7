package io.autoglm.model;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;

/**
 * Runs forward steps of a loaded model over its KV cache, on one device or sharded over several
 * ({@code io.autoglm.parallel.ShardedModel}); the engine's one way to step a model. Block ids in a batch address
 * the same blocks on every device, so one block pool serves them all.
 */
public interface ModelRunner {
  /** Receives the step's logits (logitRows.length, vocab) on the device that holds them, while the step is open. */
  @FunctionalInterface
  interface OnLogits<R> {
    R apply(ForwardStep step, Tensor logits);
  }

  /** The cache geometry as the block pool sees it: numBlocks and blockSizeTokens are the same on every device. */
  KvLayout kvLayout();

  /** One forward step over {@code batch}; {@code onLogits} reads the logits (to the host, or sampled). */
  <R> R step(StepBatch batch, int[] logitRows, OnLogits<R> onLogits);

  /** The whole model on one backend. */
  static ModelRunner single(GlmModel model, ComputeBackend backend, KvCache kv) {
    return new ModelRunner() {
      @Override
      public KvLayout kvLayout() {
        return kv.layout();
      }

      @Override
      public <R> R step(StepBatch batch, int[] logitRows, OnLogits<R> onLogits) {
        try (ForwardStep s = backend.begin(batch, kv)) {
          return onLogits.apply(s, model.forward(s, logitRows));
        }
      }
    };
  }
}

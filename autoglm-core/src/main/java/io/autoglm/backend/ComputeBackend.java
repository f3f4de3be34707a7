package io.autoglm.backend;

import io.autoglm.safetensors.TensorSlice;
import java.util.List;

/**
 * Where the decoder's math runs. The decoder is written once against this interface; the DJL CPU backend and the
 * CUDA backend implement it.
 *
 * <p>Tensors live on the backend. Weights and the KV cache are long-lived; everything a {@link ForwardStep} makes
 * is freed when the step closes. A step reads its batch layout once at {@link #begin}, so ops need no per-op host
 * round trips, and KV blocks are written in place.
 */
public interface ComputeBackend extends AutoCloseable {
  /** A short name, e.g. {@code cpu} or {@code cuda}. */
  String name();

  /** Copies (or maps) a weight onto the backend, in the backend's compute dtype. */
  Tensor weight(TensorSlice slice);

  /**
   * Concatenates weights along dim 0 into one weight, e.g. a checkpoint's separate {@code gate_proj} and
   * {@code up_proj} into the fused [gate | up] the decoder feeds to {@link ForwardStep#siluMul}. All blocks share
   * their trailing dims.
   */
  default Tensor fusedWeight(List<TensorSlice> rowBlocks) {
    throw new UnsupportedOperationException(name() + " backend does not implement fusedWeight");
  }

  /**
   * The weight of one of the decoder's linear layers (y = x·Wᵀ: q/k/v, o_proj, gate_up or gate and up, down_proj,
   * the shared experts'), from one or more row blocks as {@link #fusedWeight} takes them; the model calls
   * {@link #weight}/{@link #fusedWeight} for everything else (embeddings, norms, biases, router, lm_head). Blocks may
   * be F8_E4M3 with a {@link io.autoglm.safetensors.BlockScale}, or a mix of FP8 and unquantized. With
   * {@link BackendOptions#QUANTIZATION} {@code fp8}, a backend quantizes each unquantized block on its own (blocks
   * laid from the block's first row and column, as {@link io.autoglm.safetensors.Fp8#quantize}) — the routed
   * experts' projections in {@link #moeWeights} too. Default: {@code weight} or {@code fusedWeight}, as stored.
   */
  default Tensor linearWeight(List<TensorSlice> rowBlocks) {
    return rowBlocks.size() == 1 ? weight(rowBlocks.get(0)) : fusedWeight(rowBlocks);
  }

  /** Copies (or maps) one MoE layer's router and routed experts onto the backend. */
  default MoeWeights moeWeights(MoeSlices slices) {
    throw new UnsupportedOperationException(name() + " backend does not implement moeWeights (mixture of experts)");
  }

  /** Allocates the KV cache. */
  KvCache allocateKv(KvLayout layout);

  /** Starts a forward step over {@code batch}; close it to free everything the step made. */
  ForwardStep begin(StepBatch batch, KvCache kv);

  /** Bytes one element of a weight takes on this backend (4 for fp32, 2 for bf16). */
  int weightBytesPerElement();

  /**
   * Bytes the KV cache may take on this backend now, after the weights (and the backend's own buffers) are loaded;
   * empty when the backend has no fixed memory (the CPU). The engine sizes its block pool from it:
   * {@code budget / (layout.bytesPerToken(kvBytesPerElement()) × blockSizeTokens)} blocks.
   */
  default java.util.OptionalLong kvCacheBudgetBytes() {
    return java.util.OptionalLong.empty();
  }

  /** Bytes one K or V element takes in this backend's cache; the loader sizes the block pool with it. */
  default int kvBytesPerElement() {
    return weightBytesPerElement();
  }

  @Override
  void close();
}

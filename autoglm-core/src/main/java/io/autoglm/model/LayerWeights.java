package io.autoglm.model;

import io.autoglm.ModelLoadException;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertSlices;
import io.autoglm.backend.MoeSlices;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One decoder block's weights, and how they are read from a checkpoint in the transformers layout. Each tensor is
 * mapped from its shard only when its layer loads, and handed straight to the backend; tensors no layer asks for
 * (the multi-token-prediction layer {@code model.layers.{num_hidden_layers}.*}) are never mapped.
 */
record LayerWeights(
    Tensor inputNorm, // (hidden)
    Tensor qWeight, // (heads·headDim, hidden)
    Optional<Tensor> qBias, // (heads·headDim)
    Tensor kWeight, // (kvHeads·headDim, hidden)
    Optional<Tensor> kBias, // (kvHeads·headDim)
    Tensor vWeight, // (kvHeads·headDim, hidden)
    Optional<Tensor> vBias, // (kvHeads·headDim)
    Optional<Tensor> qNorm, // (headDim), GLM4-MoE with use_qk_norm
    Optional<Tensor> kNorm, // (headDim), GLM4-MoE with use_qk_norm
    Tensor oWeight, // (hidden, heads·headDim)
    Optional<Tensor> postSelfAttnNorm, // (hidden), GLM4
    Tensor postAttnNorm, // (hidden)
    FeedForward feedForward,
    Optional<Tensor> postMlpNorm) { // (hidden), GLM4

  /** A layer's MLP: dense, or routed experts plus shared experts. */
  sealed interface FeedForward permits Dense, Experts {}

  /** A SiLU MLP with gate and up fused: gateUp (2·I, hidden) rows [gate | up], down (hidden, I). */
  record Dense(Tensor gateUp, Tensor down) implements FeedForward {}

  /** Routed experts (router included) and the shared experts' one dense MLP, absent when n_shared_experts = 0. */
  record Experts(MoeWeights routed, Optional<Dense> shared) implements FeedForward {}

  static LayerWeights load(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, int layer) {
    String p = "model.layers." + layer + ".";
    long h = c.hiddenSize();
    boolean sandwich = c.architecture().sandwichNorms();
    return new LayerWeights(
        backend.weight(ckpt.tensor(p + "input_layernorm.weight", h)),
        backend.weight(ckpt.tensor(p + "self_attn.q_proj.weight", c.qSize(), h)),
        bias(c, ckpt, backend, p + "self_attn.q_proj.bias", c.qSize()),
        backend.weight(ckpt.tensor(p + "self_attn.k_proj.weight", c.kvSize(), h)),
        bias(c, ckpt, backend, p + "self_attn.k_proj.bias", c.kvSize()),
        backend.weight(ckpt.tensor(p + "self_attn.v_proj.weight", c.kvSize(), h)),
        bias(c, ckpt, backend, p + "self_attn.v_proj.bias", c.kvSize()),
        qkNorm(c, ckpt, backend, p + "self_attn.q_norm.weight"),
        qkNorm(c, ckpt, backend, p + "self_attn.k_norm.weight"),
        backend.weight(ckpt.tensor(p + "self_attn.o_proj.weight", h, c.qSize())),
        sandwich ? Optional.of(backend.weight(ckpt.tensor(p + "post_self_attn_layernorm.weight", h))) : Optional.empty(),
        backend.weight(ckpt.tensor(p + "post_attention_layernorm.weight", h)),
        feedForward(c, ckpt, backend, layer),
        sandwich ? Optional.of(backend.weight(ckpt.tensor(p + "post_mlp_layernorm.weight", h))) : Optional.empty());
  }

  private static Optional<Tensor> bias(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, String name, long n) {
    return c.attentionBias() ? Optional.of(backend.weight(ckpt.tensor(name, n))) : Optional.empty();
  }

  private static Optional<Tensor> qkNorm(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, String name) {
    return c.useQkNorm() ? Optional.of(backend.weight(ckpt.tensor(name, c.headDim()))) : Optional.empty();
  }

  private static FeedForward feedForward(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, int layer) {
    String p = "model.layers." + layer + ".mlp.";
    if (c.moe().isEmpty() || !c.moe().get().isMoeLayer(layer)) {
      return dense(c, ckpt, backend, p, c.intermediateSize());
    }
    if (ckpt.contains(p + "experts.gate_up_proj") && !ckpt.contains(p + "experts.0.gate_proj.weight")) {
      throw new ModelLoadException(String.format("checkpoint %s stores layer %d's routed experts fused "
          + "(%sexperts.gate_up_proj, transformers' in-memory layout); expected one tensor per expert "
          + "(%sexperts.{e}.gate_proj.weight, up_proj, down_proj) as published checkpoints have", ckpt.dir(), layer,
          p, p));
    }
    MoeConfig m = c.moe().get();
    long h = c.hiddenSize();
    long i = m.moeIntermediateSize();
    List<ExpertSlices> experts = new ArrayList<>(m.numRoutedExperts());
    for (int e = 0; e < m.numRoutedExperts(); e++) {
      String x = p + "experts." + e + ".";
      experts.add(new ExpertSlices(ckpt.tensor(x + "gate_proj.weight", i, h), ckpt.tensor(x + "up_proj.weight", i, h),
          ckpt.tensor(x + "down_proj.weight", h, i)));
    }
    MoeSlices slices = new MoeSlices(ckpt.tensor(p + "gate.weight", m.numRoutedExperts(), h),
        ckpt.tensor(p + "gate.e_score_correction_bias", m.numRoutedExperts()), experts);
    Optional<Dense> shared = m.numSharedExperts() == 0 ? Optional.empty()
        : Optional.of(dense(c, ckpt, backend, p + "shared_experts.", m.sharedIntermediateSize()));
    return new Experts(backend.moeWeights(slices), shared);
  }

  /** GLM/GLM4 store {@code gate_up_proj}; GLM4-MoE stores gate_proj and up_proj, fused here on the backend. */
  private static Dense dense(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, String p, long intermediate) {
    long h = c.hiddenSize();
    Tensor gateUp = c.architecture().fusedGateUp()
        ? backend.weight(ckpt.tensor(p + "gate_up_proj.weight", 2 * intermediate, h))
        : backend.fusedWeight(List.of(ckpt.tensor(p + "gate_proj.weight", intermediate, h),
            ckpt.tensor(p + "up_proj.weight", intermediate, h)));
    return new Dense(gateUp, backend.weight(ckpt.tensor(p + "down_proj.weight", h, intermediate)));
  }
}

package io.autoglm.model;

import io.autoglm.ModelLoadException;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertSlices;
import io.autoglm.backend.MoeSlices;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.TensorSlice;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One decoder block's weights (of one tensor-parallel rank: its heads' rows of q/k/v, columns of o_proj, and so on),
 * and how they are read from a checkpoint in the transformers layout. Each tensor is
 * mapped from its shard only when its layer loads, and handed straight to the backend; tensors no layer asks for
 * (the multi-token-prediction layer {@code model.layers.{num_hidden_layers}.*}) are never mapped.
 */
record LayerWeights(
    Tensor inputNorm, // (hidden)
    Tensor qkvWeight, // ((heads + 2·kvHeads)·headDim, hidden): the rank's q, k and v rows, fused into one matrix
    Optional<Tensor> qkvBias, // ((heads + 2·kvHeads)·headDim)
    Optional<Tensor> qNorm, // (headDim), GLM4-MoE with use_qk_norm
    Optional<Tensor> kNorm, // (headDim), GLM4-MoE with use_qk_norm
    Tensor oWeight, // (hidden, heads·headDim): the rank's heads' columns
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

  static LayerWeights load(ModelConfig c, WeightSource src, ComputeBackend backend, int layer) {
    String p = "model.layers." + layer + ".";
    long h = c.hiddenSize();
    boolean sandwich = c.architecture().sandwichNorms();
    return new LayerWeights(
        load(src, backend, p + "input_layernorm.weight", h),
        backend.linearWeight(qkv(src, p + "self_attn.", ".weight", c.qSize(), c.kvSize(), h)),
        c.attentionBias()
            ? Optional.of(backend.fusedWeight(GlmModel.unquantized(qkv(src, p + "self_attn.", ".bias", c.qSize(),
                c.kvSize()))))
            : Optional.empty(),
        qkNorm(c, src, backend, p + "self_attn.q_norm.weight"),
        qkNorm(c, src, backend, p + "self_attn.k_norm.weight"),
        linear(src, backend, p + "self_attn.o_proj.weight", h, c.qSize()),
        sandwich ? Optional.of(load(src, backend, p + "post_self_attn_layernorm.weight", h)) : Optional.empty(),
        load(src, backend, p + "post_attention_layernorm.weight", h),
        feedForward(c, src, backend, layer),
        sandwich ? Optional.of(load(src, backend, p + "post_mlp_layernorm.weight", h)) : Optional.empty());
  }

  /**
   * q_proj, k_proj and v_proj (weights, or with no {@code cols} the biases) stacked into one tensor, so that one GEMM
   * (one GEMV in decode) computes all three; the model takes q, k and v back as column ranges of its output.
   */
  private static List<TensorSlice> qkv(WeightSource src, String prefix, String suffix, long qRows, long kvRows,
      long... cols) {
    List<TensorSlice> parts = new ArrayList<>();
    for (String name : List.of("q_proj", "k_proj", "v_proj")) {
      long[] shape = new long[1 + cols.length];
      shape[0] = name.equals("q_proj") ? qRows : kvRows;
      System.arraycopy(cols, 0, shape, 1, cols.length);
      parts.addAll(src.load(prefix + name + suffix, shape));
    }
    return parts;
  }

  private static Optional<Tensor> qkNorm(ModelConfig c, WeightSource src, ComputeBackend backend, String name) {
    return c.useQkNorm() ? Optional.of(load(src, backend, name, c.headDim())) : Optional.empty();
  }

  private static FeedForward feedForward(ModelConfig c, WeightSource src, ComputeBackend backend, int layer) {
    String p = "model.layers." + layer + ".mlp.";
    if (c.moe().isEmpty() || !c.moe().get().isMoeLayer(layer)) {
      return dense(c, src, backend, p, c.intermediateSize());
    }
    if (src.contains(p + "experts.gate_up_proj") && !src.contains(p + "experts.0.gate_proj.weight")) {
      throw new ModelLoadException(String.format("checkpoint %s stores layer %d's routed experts fused "
          + "(%sexperts.gate_up_proj, transformers' in-memory layout); expected one tensor per expert "
          + "(%sexperts.{e}.gate_proj.weight, up_proj, down_proj) as published checkpoints have", src, layer,
          p, p));
    }
    MoeConfig m = c.moe().get();
    long h = c.hiddenSize();
    long i = m.moeIntermediateSize();
    List<ExpertSlices> experts = new ArrayList<>(m.numRoutedExperts());
    for (int e = 0; e < m.numRoutedExperts(); e++) {
      String x = p + "experts." + e + ".";
      experts.add(new ExpertSlices(one(src, x + "gate_proj.weight", i, h), one(src, x + "up_proj.weight", i, h),
          one(src, x + "down_proj.weight", h, i)));
    }
    MoeSlices slices = new MoeSlices(
        GlmModel.unquantized(List.of(one(src, p + "gate.weight", m.numRoutedExperts(), h))).get(0),
        GlmModel.unquantized(List.of(one(src, p + "gate.e_score_correction_bias", m.numRoutedExperts()))).get(0),
        experts);
    Optional<Dense> shared = m.numSharedExperts() == 0 ? Optional.empty()
        : Optional.of(dense(c, src, backend, p + "shared_experts.", m.sharedIntermediateSize()));
    return new Experts(backend.moeWeights(slices), shared);
  }

  /** GLM/GLM4 store {@code gate_up_proj}; GLM4-MoE stores gate_proj and up_proj, fused here on the backend. */
  private static Dense dense(ModelConfig c, WeightSource src, ComputeBackend backend, String p, long intermediate) {
    long h = c.hiddenSize();
    Tensor gateUp;
    if (c.architecture().fusedGateUp()) {
      gateUp = linear(src, backend, p + "gate_up_proj.weight", 2 * intermediate, h);
    } else {
      List<TensorSlice> parts = new ArrayList<>(src.load(p + "gate_proj.weight", intermediate, h));
      parts.addAll(src.load(p + "up_proj.weight", intermediate, h));
      gateUp = backend.linearWeight(parts);
    }
    return new Dense(gateUp, linear(src, backend, p + "down_proj.weight", h, intermediate));
  }

  /** A norm weight: never quantized. */
  private static Tensor load(WeightSource src, ComputeBackend backend, String name, long... shape) {
    return GlmModel.weight(backend, GlmModel.unquantized(src.load(name, shape)));
  }

  /** A linear layer's weight, FP8 or not; the backend may quantize it ({@link ComputeBackend#linearWeight}). */
  private static Tensor linear(WeightSource src, ComputeBackend backend, String name, long... shape) {
    return backend.linearWeight(src.load(name, shape));
  }

  /** A tensor every rank loads as one slice (the router, an expert's projections). */
  private static TensorSlice one(WeightSource src, String name, long... shape) {
    List<TensorSlice> parts = src.load(name, shape);
    if (parts.size() != 1) {
      throw new IllegalStateException("tensor " + name + " must load as 1 slice, got " + parts.size());
    }
    return parts.get(0);
  }
}

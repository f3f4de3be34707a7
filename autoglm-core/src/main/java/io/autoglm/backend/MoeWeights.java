package io.autoglm.backend;

/**
 * One MoE layer's router and routed experts on a backend, made by {@link ComputeBackend#moeWeights}. The backend
 * lays them out as its kernels like (the CPU keeps one array per expert; a GPU may stack them for grouped GEMMs)
 * and keeps the router and its correction bias in fp32, as transformers does.
 */
public interface MoeWeights {
  int numExperts();

  /** Intermediate size of one routed expert ({@code moe_intermediate_size}). */
  int intermediateSize();
}

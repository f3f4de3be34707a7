package io.autoglm.model;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The decoder architectures this project implements, keyed by config.json's {@code architectures[0]}. */
public enum Architecture {
  /** glm-4-9b-chat-hf, glm-edge: pre-norm blocks. */
  GLM("GlmForCausalLM", "glm", false),
  /** GLM-4-0414, GLM-Z1: adds post_self_attn_layernorm and post_mlp_layernorm. */
  GLM4("Glm4ForCausalLM", "glm4", true),
  /**
   * GLM-4.5, GLM-4.6, GLM-4.5-Air: pre-norm blocks, half-split (NeoX) RoPE pairs, optional per-head q/k norms,
   * separate {@code gate_proj}/{@code up_proj}, and mixture-of-experts MLPs after the first dense layers.
   */
  GLM4_MOE("Glm4MoeForCausalLM", "glm4_moe", false);

  private final String className;
  private final String modelType;
  private final boolean sandwichNorms;

  Architecture(String className, String modelType, boolean sandwichNorms) {
    this.className = className;
    this.modelType = modelType;
    this.sandwichNorms = sandwichNorms;
  }

  public String className() {
    return className;
  }

  public String modelType() {
    return modelType;
  }

  /** Whether each block normalises the attention and MLP outputs before the residual add (GLM4). */
  public boolean sandwichNorms() {
    return sandwichNorms;
  }

  /** Whether RoPE rotates channel pairs (2i, 2i+1) (GLM, GLM4) rather than (i, i + rotaryDim/2) (GLM4-MoE). */
  public boolean ropeInterleaved() {
    return this != GLM4_MOE;
  }

  /** Whether dense MLPs store one fused {@code gate_up_proj} (GLM, GLM4) rather than gate_proj and up_proj. */
  public boolean fusedGateUp() {
    return this != GLM4_MOE;
  }

  /** Whether the config carries a {@link MoeConfig}. */
  public boolean mixtureOfExperts() {
    return this == GLM4_MOE;
  }

  public static Optional<Architecture> fromClassName(String name) {
    return Arrays.stream(values()).filter(a -> a.className.equals(name)).findFirst();
  }

  public static List<String> supportedClassNames() {
    return Arrays.stream(values()).map(Architecture::className).toList();
  }
}

package io.autoglm.model;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The decoder architectures this project implements, keyed by config.json's {@code architectures[0]}. */
public enum Architecture {
  /** glm-4-9b-chat-hf, glm-edge: pre-norm blocks. */
  GLM("GlmForCausalLM", "glm", false),
  /** GLM-4-0414, GLM-Z1: adds post_self_attn_layernorm and post_mlp_layernorm. */
  GLM4("Glm4ForCausalLM", "glm4", true);

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

  public static Optional<Architecture> fromClassName(String name) {
    return Arrays.stream(values()).filter(a -> a.className.equals(name)).findFirst();
  }

  public static List<String> supportedClassNames() {
    return Arrays.stream(values()).map(Architecture::className).toList();
  }
}

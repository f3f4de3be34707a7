package io.autoglm.model;

import io.autoglm.ModelLoadException;
import io.autoglm.backend.MoeRouter;

/**
 * The mixture-of-experts part of a GLM4-MoE config (GLM-4.5, GLM-4.6, GLM-4.5-Air). Layers below
 * {@code firstKDenseReplace} keep a dense MLP; the others route each token to {@code numExpertsPerToken} of
 * {@code numRoutedExperts} experts and add the shared experts.
 *
 * @param numRoutedExperts {@code n_routed_experts}
 * @param numSharedExperts {@code n_shared_experts}: one dense MLP of {@code numSharedExperts × moeIntermediateSize}
 * @param numExpertsPerToken {@code num_experts_per_tok}
 * @param moeIntermediateSize {@code moe_intermediate_size}, of one routed expert
 * @param firstKDenseReplace {@code first_k_dense_replace}: layers [0, k) are dense
 * @param numGroups {@code n_group}
 * @param topKGroups {@code topk_group}
 * @param routedScalingFactor {@code routed_scaling_factor}
 * @param normTopKProb {@code norm_topk_prob}
 * @param numNextnPredictLayers {@code num_nextn_predict_layers}: multi-token-prediction layers stored after the
 *     decoder layers ({@code model.layers.{num_hidden_layers}.*}); loading skips them
 */
public record MoeConfig(
    int numRoutedExperts,
    int numSharedExperts,
    int numExpertsPerToken,
    int moeIntermediateSize,
    int firstKDenseReplace,
    int numGroups,
    int topKGroups,
    double routedScalingFactor,
    boolean normTopKProb,
    int numNextnPredictLayers) {

  public MoeConfig {
    atLeast("n_routed_experts", numRoutedExperts, 1);
    atLeast("n_shared_experts", numSharedExperts, 0);
    atLeast("num_experts_per_tok", numExpertsPerToken, 1);
    atLeast("moe_intermediate_size", moeIntermediateSize, 1);
    atLeast("first_k_dense_replace", firstKDenseReplace, 0);
    atLeast("n_group", numGroups, 1);
    atLeast("topk_group", topKGroups, 1);
    atLeast("num_nextn_predict_layers", numNextnPredictLayers, 0);
    if (numExpertsPerToken > numRoutedExperts) {
      throw new ModelLoadException(String.format(
          "num_experts_per_tok (%d) must be <= n_routed_experts (%d)", numExpertsPerToken, numRoutedExperts));
    }
    if (numRoutedExperts % numGroups != 0) {
      throw new ModelLoadException(String.format(
          "n_routed_experts (%d) must be a multiple of n_group (%d)", numRoutedExperts, numGroups));
    }
    if (topKGroups > numGroups) {
      throw new ModelLoadException(String.format("topk_group (%d) must be <= n_group (%d)", topKGroups, numGroups));
    }
    int reachable = topKGroups * (numRoutedExperts / numGroups);
    if (numExpertsPerToken > reachable) {
      throw new ModelLoadException(String.format(
          "num_experts_per_tok (%d) must be <= topk_group (%d) × experts per group (%d) = %d",
          numExpertsPerToken, topKGroups, numRoutedExperts / numGroups, reachable));
    }
    if (!(routedScalingFactor > 0) || Double.isInfinite(routedScalingFactor)) {
      throw new ModelLoadException("routed_scaling_factor (" + routedScalingFactor + ") must be finite and > 0");
    }
  }

  private static void atLeast(String field, int value, int min) {
    if (value < min) {
      throw new ModelLoadException(field + " (" + value + ") must be >= " + min);
    }
  }

  /** Whether decoder layer {@code layer} routes to experts (true) or has a dense MLP. */
  public boolean isMoeLayer(int layer) {
    return layer >= firstKDenseReplace;
  }

  /** Intermediate size of the shared experts' one fused MLP. */
  public int sharedIntermediateSize() {
    return numSharedExperts * moeIntermediateSize;
  }

  public MoeRouter router() {
    return new MoeRouter(numRoutedExperts, numExpertsPerToken, numGroups, topKGroups, normTopKProb,
        routedScalingFactor);
  }

  /**
   * Reads the fields; absent optional ones take transformers' {@code Glm4MoeConfig} defaults (n_shared_experts 1,
   * first_k_dense_replace 1, n_group 1, topk_group 1, routed_scaling_factor 1.0, norm_topk_prob true).
   * {@code num_nextn_predict_layers} is not a Glm4MoeConfig field: absent, the checkpoint has no MTP layers to skip
   * (0), as transformers' modeling reads it.
   */
  static MoeConfig fromJson(ConfigReader o) {
    String by = " by Glm4MoeForCausalLM";
    return new MoeConfig(
        o.requiredInt("n_routed_experts", 1, by),
        o.optionalInt("n_shared_experts", 0, 1),
        o.requiredInt("num_experts_per_tok", 1, by),
        o.requiredInt("moe_intermediate_size", 1, by),
        o.optionalInt("first_k_dense_replace", 0, 1),
        o.optionalInt("n_group", 1, 1),
        o.optionalInt("topk_group", 1, 1),
        o.optionalNumber("routed_scaling_factor", "a number > 0", v -> v > 0).orElse(1.0),
        o.optionalBoolean("norm_topk_prob", true),
        o.optionalInt("num_nextn_predict_layers", 0, 0));
  }
}

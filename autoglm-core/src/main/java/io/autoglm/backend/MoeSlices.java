package io.autoglm.backend;

import io.autoglm.safetensors.TensorSlice;
import java.util.List;

/**
 * The router and the routed experts of one MoE layer, as mapped from a checkpoint. The shared experts are an
 * ordinary dense MLP and are not part of it.
 *
 * @param router (numExperts, hidden): {@code mlp.gate.weight}
 * @param correctionBias (numExperts): {@code mlp.gate.e_score_correction_bias}, stored in fp32 by real checkpoints
 * @param experts numExperts entries, expert e at index e
 */
public record MoeSlices(TensorSlice router, TensorSlice correctionBias, List<ExpertSlices> experts) {
  public MoeSlices {
    experts = List.copyOf(experts);
    if (experts.isEmpty() || router.shape().length != 2 || router.shape()[0] != experts.size()) {
      throw new IllegalArgumentException(String.format(
          "router %s must have one row per expert (%d experts)", router, experts.size()));
    }
    if (correctionBias.elementCount() != experts.size()) {
      throw new IllegalArgumentException(String.format(
          "correction bias %s must have one entry per expert (%d experts)", correctionBias, experts.size()));
    }
  }
}

package io.autoglm.parallel;

import io.autoglm.model.ModelConfig;
import java.util.List;

/**
 * How one model is spread over devices: {@code pipelineParallel} stages of consecutive layers, each split over
 * {@code tensorParallel} ranks. Logical device {@code stage × tensorParallel + rank} runs stage {@code stage}'s
 * rank {@code rank}.
 *
 * <p>{@code devices} maps logical devices to device ordinals: empty (logical device i is ordinal i), one ordinal per
 * logical device, or one per rank, shared by all stages (pipeline stages as logical devices of one GPU). Tensor
 * ranks always sit on distinct ordinals: NCCL runs one rank per GPU.
 */
public record ParallelConfig(int tensorParallel, int pipelineParallel, List<Integer> devices) {
  public ParallelConfig {
    if (tensorParallel < 1) {
      throw new IllegalArgumentException("tensorParallel (" + tensorParallel + ") must be >= 1");
    }
    if (pipelineParallel < 1) {
      throw new IllegalArgumentException("pipelineParallel (" + pipelineParallel + ") must be >= 1");
    }
    devices = List.copyOf(devices);
    int logical = tensorParallel * pipelineParallel;
    if (!devices.isEmpty() && devices.size() != logical && devices.size() != tensorParallel) {
      throw new IllegalArgumentException(String.format(
          "devices lists %d ordinals %s; expected none, tensorParallel × pipelineParallel (%d × %d = %d), "
              + "or tensorParallel (%d) shared by the stages",
          devices.size(), devices, tensorParallel, pipelineParallel, logical, tensorParallel));
    }
    for (int from = 0; from < devices.size(); from += tensorParallel) {
      List<Integer> stage = devices.subList(from, from + tensorParallel);
      if (stage.stream().distinct().count() != tensorParallel) {
        throw new IllegalArgumentException(String.format(
            "devices %s put two tensor-parallel ranks of one stage on one device (%s); each rank needs its own",
            devices, stage));
      }
    }
  }

  public static ParallelConfig single() {
    return new ParallelConfig(1, 1, List.of());
  }

  public boolean isSingleDevice() {
    return tensorParallel == 1 && pipelineParallel == 1;
  }

  /** The device ordinal of stage {@code stage}, rank {@code rank}. */
  public int deviceOf(int stage, int rank) {
    int logical = stage * tensorParallel + rank;
    if (devices.isEmpty()) {
      return logical;
    }
    return devices.size() == tensorParallel ? devices.get(rank) : devices.get(logical);
  }

  /** How many logical devices share each device ordinal: the share of its memory each one may take is 1/this. */
  public int logicalDevicesPerDevice() {
    return devices.size() == tensorParallel && pipelineParallel > 1 ? pipelineParallel : 1;
  }

  /**
   * Checks that the model splits this way: heads, KV heads, vocabulary and MLP widths across the ranks (KV heads
   * replicated, as vLLM does, when tensorParallel exceeds them), layers across the stages.
   */
  public void check(ModelConfig c) {
    int tp = tensorParallel;
    if (c.numHeads() % tp != 0) {
      throw new IllegalArgumentException(String.format(
          "tensorParallel (%d) must divide num_attention_heads (%d)", tp, c.numHeads()));
    }
    if (tp <= c.numKvHeads() && c.numKvHeads() % tp != 0) {
      throw new IllegalArgumentException(String.format(
          "tensorParallel (%d) must divide num_key_value_heads (%d)", tp, c.numKvHeads()));
    }
    if (tp > c.numKvHeads() && tp % c.numKvHeads() != 0) {
      throw new IllegalArgumentException(String.format("tensorParallel (%d) exceeds num_key_value_heads (%d), so it "
          + "must be a multiple of it: each KV head is then replicated on tensorParallel / num_key_value_heads ranks",
          tp, c.numKvHeads()));
    }
    divides("vocab_size", c.vocabSize());
    divides("intermediate_size", c.intermediateSize());
    c.moe().ifPresent(m -> divides("moe_intermediate_size", m.moeIntermediateSize()));
    if (pipelineParallel > c.numLayers()) {
      throw new IllegalArgumentException(String.format(
          "pipelineParallel (%d) must be <= num_hidden_layers (%d): each stage needs a layer", pipelineParallel,
          c.numLayers()));
    }
  }

  private void divides(String field, int size) {
    if (size % tensorParallel != 0) {
      throw new IllegalArgumentException(String.format(
          "tensorParallel (%d) must divide %s (%d)", tensorParallel, field, size));
    }
  }
}

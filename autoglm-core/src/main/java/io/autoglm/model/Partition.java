package io.autoglm.model;

/**
 * The part of the decoder one device runs: a pipeline stage's layers [firstLayer, endLayer), and within them one
 * tensor-parallel rank's heads and vocabulary rows. The KV cache of that device holds {@code endLayer - firstLayer}
 * layers of {@code numKvHeads} heads; layer l of the model is its layer {@code l - firstLayer}.
 *
 * @param numHeads query heads on this rank (num_attention_heads / tensorParallel)
 * @param numKvHeads KV heads on this rank: num_key_value_heads / tensorParallel, or 1 (replicated) when
 *     tensorParallel exceeds num_key_value_heads
 * @param vocabStart first vocabulary row of this rank's embedding and lm_head
 * @param vocabEnd end (exclusive) of those rows
 * @param numLayers the model's num_hidden_layers: the first stage embeds, the stage ending there has the head
 */
public record Partition(int firstLayer, int endLayer, int numLayers, int numHeads, int numKvHeads, int vocabStart,
    int vocabEnd) {

  public Partition {
    if (firstLayer < 0 || endLayer <= firstLayer || endLayer > numLayers) {
      throw new IllegalArgumentException(String.format(
          "layers [%d, %d) must be a non-empty range inside [0, num_hidden_layers %d)", firstLayer, endLayer,
          numLayers));
    }
    if (numHeads < 1 || numKvHeads < 1 || numHeads % numKvHeads != 0) {
      throw new IllegalArgumentException(String.format(
          "rank's heads (%d) must be a positive multiple of its KV heads (%d)", numHeads, numKvHeads));
    }
    if (vocabStart < 0 || vocabEnd <= vocabStart) {
      throw new IllegalArgumentException(String.format(
          "vocabulary rows [%d, %d) must be a non-empty range", vocabStart, vocabEnd));
    }
  }

  /** The whole model on one device. */
  public static Partition whole(ModelConfig c) {
    return new Partition(0, c.numLayers(), c.numLayers(), c.numHeads(), c.numKvHeads(), 0, c.vocabSize());
  }

  public int numLocalLayers() {
    return endLayer - firstLayer;
  }

  public boolean embeds() {
    return firstLayer == 0;
  }

  public boolean hasHead() {
    return endLayer == numLayers;
  }

  /** Whether the embedding and lm_head rows are a part of the vocabulary (tensor parallelism). */
  boolean vocabSplit(ModelConfig c) {
    return vocabStart != 0 || vocabEnd != c.vocabSize();
  }
}

package io.autoglm.backend;

/**
 * Shape of the paged KV cache: for each layer, K and V of {@code numBlocks × blockSizeTokens} token slots, each
 * slot holding {@code numKvHeads × headDim} values. Slot {@code s} of a sequence at position {@code p} is
 * {@code blockTable[p / blockSizeTokens] * blockSizeTokens + p % blockSizeTokens}.
 */
public record KvLayout(int numLayers, int numBlocks, int blockSizeTokens, int numKvHeads, int headDim) {
  public KvLayout {
    if (numLayers <= 0 || numBlocks <= 0 || blockSizeTokens <= 0 || numKvHeads <= 0 || headDim <= 0) {
      throw new IllegalArgumentException(String.format(
          "KV layout needs positive sizes, got layers=%d blocks=%d blockSizeTokens=%d kvHeads=%d headDim=%d",
          numLayers, numBlocks, blockSizeTokens, numKvHeads, headDim));
    }
  }

  /** Bytes of one token slot across all layers, K and V, at {@code bytesPerElement}. */
  public long bytesPerToken(int bytesPerElement) {
    return 2L * numLayers * numKvHeads * headDim * bytesPerElement;
  }
}

package io.autoglm.backend.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;

/** K and V per layer as fp32 arrays of shape (numBlocks × blockSizeTokens, numKvHeads, headDim). */
final class CpuKvCache implements KvCache {
  private final KvLayout layout;
  private final NDManager manager;
  final NDArray[] k; // per layer: (slots, kvHeads, headDim) fp32
  final NDArray[] v; // per layer: (slots, kvHeads, headDim) fp32

  CpuKvCache(NDManager parent, KvLayout layout) {
    this.layout = layout;
    this.manager = parent.newSubManager();
    Shape shape = new Shape((long) layout.numBlocks() * layout.blockSizeTokens(), layout.numKvHeads(), layout.headDim());
    k = new NDArray[layout.numLayers()];
    v = new NDArray[layout.numLayers()];
    for (int l = 0; l < layout.numLayers(); l++) {
      k[l] = manager.zeros(shape, DataType.FLOAT32);
      v[l] = manager.zeros(shape, DataType.FLOAT32);
      NDScope.unregister(k[l], v[l]);
    }
  }

  @Override
  public KvLayout layout() {
    return layout;
  }

  @Override
  public void close() {
    manager.close();
  }
}

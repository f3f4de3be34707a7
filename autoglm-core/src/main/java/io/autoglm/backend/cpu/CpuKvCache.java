package io.autoglm.backend.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.safetensors.Fp8;

/**
 * K and V per layer as fp32 arrays of shape (numBlocks × blockSizeTokens, numKvHeads, headDim). With {@link #fp8}
 * every value is written rounded to FP8 E4M3 (scale 1), still stored as fp32: the reference of an FP8 KV cache.
 */
final class CpuKvCache implements KvCache {
  private final KvLayout layout;
  private final NDManager manager;
  final boolean fp8;
  final NDArray[] k; // per layer: (slots, kvHeads, headDim) fp32
  final NDArray[] v; // per layer: (slots, kvHeads, headDim) fp32

  CpuKvCache(NDManager parent, KvLayout layout, boolean fp8) {
    this.layout = layout;
    this.fp8 = fp8;
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

  /** What the cache keeps of {@code x} (made in {@code step}): {@code x}, or each value rounded to E4M3 when fp8. */
  NDArray stored(NDManager step, NDArray x) {
    if (!fp8) {
      return x;
    }
    float[] values = x.toFloatArray();
    for (int i = 0; i < values.length; i++) {
      values[i] = Fp8.round(values[i]);
    }
    return step.create(values, x.getShape());
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

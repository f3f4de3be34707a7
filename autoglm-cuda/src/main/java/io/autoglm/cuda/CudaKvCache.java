package io.autoglm.cuda;

import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;

/**
 * The paged KV cache in one device allocation: for each layer K then V, each (numBlocks + 1, blockSizeTokens,
 * kvHeads, headDim) bf16, or E4M3 codes with scale 1 for an FP8 cache ({@link #fp8()}, autoglm.kvCacheDtype=fp8).
 * Block {@code numBlocks} is the backend's own scratch block: the padding rows of a CUDA-graph decode step write and
 * read only there, never a block the engine owns.
 */
final class CudaKvCache implements KvCache {
  private final CudaBackend backend;
  private final KvLayout layout;
  private final long base;
  private final long halfLayerBytes; // K (or V) of one layer
  private final boolean fp8;

  CudaKvCache(CudaBackend backend, KvLayout layout, boolean fp8) {
    this.backend = backend;
    this.layout = layout;
    this.fp8 = fp8;
    this.halfLayerBytes = (layout.numBlocks() + 1L) * layout.blockSizeTokens() * layout.numKvHeads()
        * layout.headDim() * (fp8 ? 1 : 2);
    long total = 2 * layout.numLayers() * halfLayerBytes;
    this.base = CudaNative.malloc(backend.ctx(), total);
    CudaNative.memsetAsync(backend.ctx(), base, 0, total);
    CudaNative.synchronize(backend.ctx());
  }

  @Override
  public KvLayout layout() {
    return layout;
  }

  /** Whether the cache holds E4M3 codes (1 byte per value) rather than bf16. */
  boolean fp8() {
    return fp8;
  }

  long keys(int layer) {
    return base + 2L * layer * halfLayerBytes;
  }

  long values(int layer) {
    return base + (2L * layer + 1) * halfLayerBytes;
  }

  int scratchBlock() {
    return layout.numBlocks();
  }

  long id() {
    return base;
  }

  @Override
  public void close() {
    backend.kvClosed(this);
    CudaNative.free(backend.ctx(), base);
  }
}

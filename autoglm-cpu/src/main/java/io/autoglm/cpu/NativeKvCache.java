package io.autoglm.cpu;

import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;

/**
 * K and V per layer on the native heap, (numBlocks × blockSizeTokens) slots × numKvHeads × headDim, fp32 or (with
 * {@code autoglm.kvCacheDtype=fp8}) FP8 E4M3 codes, scale 1, decoded as attention reads them.
 */
final class NativeKvCache implements KvCache {
  private final KvLayout layout;
  private final NativeCpuBackend owner;
  private long handle;

  NativeKvCache(KvLayout layout, NativeCpuBackend owner) {
    this.layout = layout;
    this.owner = owner;
    long slots = (long) layout.numBlocks() * layout.blockSizeTokens();
    this.handle = CpuNative.kvCreate(layout.numLayers(), slots, layout.numKvHeads(), layout.headDim(),
        owner.kvBytesPerElement() == 1);
    if (handle == 0) {
      throw new IllegalStateException(String.format("cpu-native: out of memory for a KV cache of %d bytes (%s)",
          layout.bytesPerToken(owner.kvBytesPerElement()) * slots, layout));
    }
  }

  long slots() {
    return (long) layout.numBlocks() * layout.blockSizeTokens();
  }

  NativeCpuBackend owner() {
    return owner;
  }

  long handle() {
    if (handle == 0) {
      throw new IllegalStateException("the KV cache is closed");
    }
    return handle;
  }

  @Override
  public KvLayout layout() {
    return layout;
  }

  @Override
  public synchronized void close() {
    if (handle != 0) {
      CpuNative.kvFree(handle);
      handle = 0;
      owner.forget(this);
    }
  }
}

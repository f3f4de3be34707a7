package io.autoglm.backend.cpu;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Measures the CPU's memory read bandwidth the way the decoder reads weights: PyTorch streaming through a large
 * fp32 array (a sum, all intra-op threads), best of several runs.
 */
public final class MemoryBandwidth {
  private MemoryBandwidth() {}

  /** Bytes per second read by summing an array of {@code bytes} bytes, best of {@code runs}. */
  public static double readBytesPerSecond(long bytes, int runs) {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray a = m.ones(new Shape(bytes / 4), DataType.FLOAT32);
      double best = 0;
      for (int i = 0; i < runs + 1; i++) {
        long t0 = System.nanoTime();
        try (NDArray s = a.sum()) {
          s.getFloat();
        }
        long dt = System.nanoTime() - t0;
        if (i > 0) { // the first run pages the array in
          best = Math.max(best, bytes / (dt / 1e9));
        }
      }
      return best;
    }
  }
}

package io.autoglm.backend;

/**
 * Moves a pipeline stage's output activations (T, hidden) from the step of one logical device to the step of the
 * next. The CUDA backend provides a device-to-device copy (peer copy between GPUs, or no copy at all when two
 * logical devices share one GPU); {@link #viaHost()} works between any two backends.
 */
@FunctionalInterface
public interface ActivationTransfer {
  Tensor transfer(ForwardStep from, Tensor x, ForwardStep to);

  /** Through host memory: {@code to.fromHost(from.toHost(x))}. */
  static ActivationTransfer viaHost() {
    return (from, x, to) -> {
      float[][] rows = from.toHost(x);
      int cols = rows.length == 0 ? 0 : rows[0].length;
      float[] flat = new float[rows.length * cols];
      for (int r = 0; r < rows.length; r++) {
        System.arraycopy(rows[r], 0, flat, r * cols, cols);
      }
      return to.fromHost(flat, rows.length, cols);
    };
  }
}

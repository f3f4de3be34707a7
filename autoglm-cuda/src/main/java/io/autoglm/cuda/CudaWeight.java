package io.autoglm.cuda;

import io.autoglm.backend.Tensor;

/**
 * A weight in device memory: bf16, row-major, {@code shape} as in the checkpoint ((out, in) for a linear).
 *
 * @param logitsHead true for the LM head (and a tied embedding): linears with it write fp32 logits
 */
record CudaWeight(long ptr, long[] shape, boolean logitsHead) implements Tensor {
  int rows() {
    return shape.length == 1 ? 1 : Math.toIntExact(shape[0]);
  }

  int cols() {
    return Math.toIntExact(shape[shape.length - 1]);
  }
}

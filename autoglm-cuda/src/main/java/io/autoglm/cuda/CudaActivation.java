package io.autoglm.cuda;

import io.autoglm.backend.Tensor;

/**
 * An activation of one forward step, in the step's arena: a row-major (rows, cols) matrix of bf16 (or fp32 logits)
 * whose rows are {@code ld} elements apart. Kernels compute {@code physRows >= rows} rows: a decode step padded to
 * its CUDA-graph bucket carries padding rows that callers never see.
 */
record CudaActivation(long ptr, int rows, int physRows, int cols, int ld, boolean fp32) implements Tensor {
  @Override
  public long[] shape() {
    return new long[] {rows, cols};
  }

  int elementBytes() {
    return fp32 ? 4 : 2;
  }
}

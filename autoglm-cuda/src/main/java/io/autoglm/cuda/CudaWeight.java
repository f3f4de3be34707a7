package io.autoglm.cuda;

import io.autoglm.backend.Tensor;

/**
 * A weight in device memory, row-major, {@code shape} as in the checkpoint ((out, in) for a linear): bf16 at
 * {@code ptr}, or with {@code fp8} present e4m3 bytes at {@code ptr} and their scales.
 *
 * @param logitsHead true for the LM head (and a tied embedding): linears with it write fp32 logits
 * @param fp8 the scales of an FP8 weight, or null for bf16
 */
record CudaWeight(long ptr, long[] shape, boolean logitsHead, Fp8 fp8) implements Tensor {
  /**
   * The scales of an FP8 weight on the device: {@code W[r][c] = e4m3(q[r][c]) × scales[(r >> rowShift) · sld +
   * (c >> colShift)]} ({@link Fp8Scales.Layout}).
   */
  record Fp8(long scales, int sld, int rowShift, int colShift) {}

  /** A bf16 weight. */
  CudaWeight(long ptr, long[] shape, boolean logitsHead) {
    this(ptr, shape, logitsHead, null);
  }

  int rows() {
    return shape.length == 1 ? 1 : Math.toIntExact(shape[0]);
  }

  int cols() {
    return Math.toIntExact(shape[shape.length - 1]);
  }

  boolean isFp8() {
    return fp8 != null;
  }

  /**
   * Whether this is an FP8 weight the tensor-core FP8 GEMVs can take (gemv_fp8_mma.cu's fp8MmaApplies, from
   * {@code cuda.fp8GemvTc} rows): scale blocks at least 128 columns wide, so that a 128-column step has one scale.
   */
  boolean fp8Mma() {
    return fp8 != null && fp8.colShift() >= FP8_MMA_MIN_COL_SHIFT;
  }

  /** gemv_fp8_mma.cu's step: 128 columns, one scale block. */
  static final int FP8_MMA_MIN_COL_SHIFT = 7;

  /** This weight's bf16 data; fails for an FP8 weight (embeddings, norms and biases are never FP8). */
  long bf16Ptr(String use) {
    if (fp8 != null) {
      throw new IllegalArgumentException(String.format("%s needs a bf16 tensor, got an FP8 weight %s", use,
          java.util.Arrays.toString(shape)));
    }
    return ptr;
  }
}

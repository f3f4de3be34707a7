package io.autoglm.cuda;

/**
 * The JNI entry points of {@code sampling_ext.cu} (logit processing and logprobs), in the same native library as
 * {@link CudaNative}, which loads it: callers reach this class only through a step, after {@link CudaNative} has.
 */
final class CudaSamplingNative {
  private CudaSamplingNative() {}

  /**
   * out (rows, ldo) fp32 = the first {@code vocab} logits of each row with its mask, bias, penalties and min-p.
   *
   * @param params (rows) 64-byte ProcessParams
   * @param masks the constrained rows' bitsets, 64-bit words
   * @param hist (id, times in the output) int pairs, every id of the prompt or output once per row
   */
  static native void process(long ctx, long out, int ldo, long logits, int ldl, int vocab, long params, int rows,
      long masks, long biasIds, long biasValues, long hist);

  /** out (rows, {@link #logprobStride}) fp32: chosen logprob, then (id bits, logprob) pairs of the top ids. */
  static native void logprobs(long ctx, long out, long logits, int ldl, int vocab, long params, long tokens,
      int rows);

  static native int logprobStride();
}

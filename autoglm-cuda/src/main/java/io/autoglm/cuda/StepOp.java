package io.autoglm.cuda;

/**
 * The kinds of op a forward step records ({@link StepRecorder#track}). {@link #code} feeds the graph fingerprint and
 * is bit {@code code} of the timing diagnostic's skip mask ({@code bench.skipOps}); codes are stable across builds.
 */
enum StepOp {
  INPUT_COPY(1, "input copy"),
  EMBEDDING(2, "embedding"),
  RMS_NORM(3, "rmsNorm"),
  ADD_RMS_NORM(4, "addRmsNorm"),
  ADD(5, "add"),
  LINEAR(6, "linear"),
  SILU_MUL(7, "siluMul"),
  ROPE(8, "rope"),
  ROPE_WRITE_KV(9, "ropeWriteKv"),
  ATTENTION(10, "attention"),
  ROWS(11, "rows"),
  SAMPLE(12, "sample"),
  HEAD_RMS_NORM(14, "headRmsNorm"),
  MOE(15, "moe"),
  TRANSFER(16, "transfer"),
  ROPE_QKV(17, "ropeQkv"),
  LINEAR_SILU_MUL(18, "linearSiluMul"),
  ADD_RMS_NORM_LINEAR_SILU_MUL(19, "addRmsNorm+linearSiluMul"),
  ADD_RMS_NORM_QKV_ROPE(20, "addRmsNorm+qkv+rope"),
  QKV_ROPE(21, "qkv+rope"),
  EMBEDDING_VOCAB_SPLIT(22, "embedding (vocab split)"),
  ALL_REDUCE(23, "allReduce"),
  ALL_GATHER(24, "allGather"),
  DENSE_COPY(25, "dense copy"),
  MOE_ROUTE(26, "moe route");

  /** Fingerprint term and skip-mask bit; below 64. */
  final int code;
  /** The op's profile label when the step gives none more specific. */
  final String label;

  StepOp(int code, String label) {
    this.code = code;
    this.label = label;
  }
}

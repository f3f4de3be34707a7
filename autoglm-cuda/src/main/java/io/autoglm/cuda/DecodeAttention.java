package io.autoglm.cuda;

/**
 * Which kernel runs a step's attention: the tensor-core decode attention ({@code cuda.decodeAttnTc}, the query heads
 * of a KV head as the M rows of bf16 MMAs) for steps of at least that many rows × KV heads whose rows are all decode
 * rows, or else the kernels of {@link CudaNative#attention} (the CUDA-core decode kernels, and the tensor-core
 * prefill kernel for prefill segments). An FP8 KV cache takes the same kernels (they decode its E4M3 codes as they
 * load them).
 */
final class DecodeAttention {
  /** The most splits per (token, KV head) the tensor-core kernel takes (DECODE_TC_MAX_SPLITS of its header). */
  static final int MAX_TC_SPLITS = 128;

  /**
   * Benchmark switch (CudaDiagnosticsAccess.setDecodeAttnTcBlocks): the (token, KV head, split) blocks a graph step
   * that takes the tensor-core kernel aims its split count at; 0: the decode kernels' target (512). Default 128, from
   * the H200 kernel table of 2026-12-03 (glm-4-9b shapes, context 133: 11.2 µs at 64 rows against 20.1 at 512, 13.9
   * against 24.6 at 128 rows, equal at 256). Process-wide; a change needs the captured graphs dropped (they bake the
   * split count in).
   */
  static volatile int tcGraphBlocks = 128;
  /** Default {@link #tcGraphBlocks}. */
  static final int DEFAULT_TC_GRAPH_BLOCKS = 128;

  private DecodeAttention() {}

  /**
   * Attention splits per (token, KV head) of a graph step of {@code phys} rows: {@link CudaForwardStep#graphSplits},
   * or with {@link #tcGraphBlocks} set and the step at or above {@code threshold} (cuda.decodeAttnTc) rows × KV heads,
   * about that many blocks (1 to {@link #MAX_TC_SPLITS} splits).
   */
  static int graphSplits(int threshold, int phys, int kvHeads) {
    int target = tcGraphBlocks;
    if (target > 0 && threshold > 0 && (long) phys * kvHeads >= threshold) {
      return Math.max(1, Math.min(MAX_TC_SPLITS, target / (phys * kvHeads)));
    }
    return CudaForwardStep.graphSplits(phys, kvHeads);
  }

  /**
   * Whether a step takes the tensor-core decode attention: {@code threshold} (cuda.decodeAttnTc) is on and at most
   * {@code rows} × {@code kvHeads}, no row belongs to a prefill segment, and the kernel serves the shape (headDim 64
   * or 128, query heads a multiple of the KV heads, at most {@link #MAX_TC_SPLITS} splits).
   */
  static boolean useTensorCores(int threshold, int rows, int heads, int kvHeads, int headDim, int splits,
      boolean prefillSegments) {
    return threshold > 0 && !prefillSegments && kvHeads > 0 && (long) rows * kvHeads >= threshold
        && heads % kvHeads == 0 && (headDim == 64 || headDim == 128) && splits >= 1 && splits <= MAX_TC_SPLITS;
  }

  /**
   * Launches the attention of a step: {@link CudaNative#attentionTc} when {@link #useTensorCores} says so and the
   * kernel takes the launch, otherwise {@link CudaNative#attention} (same arguments; {@code threshold} is
   * cuda.decodeAttnTc).
   */
  static void launch(int threshold, long ctx, long out, long partials, long counters, long q, int ldq, long kCache,
      long vCache, long tokenSeq, long pos, long tables, int stride, int blockSize, int rows, int heads, int kvHeads,
      int headDim, float scale, int partition, int splits, int[] prefillSegs, long prefillSegsDevice, boolean fp8Kv) {
    if (useTensorCores(threshold, rows, heads, kvHeads, headDim, splits, prefillSegs != null && prefillSegs.length > 0)
        && CudaNative.attentionTc(ctx, out, partials, counters, q, ldq, kCache, vCache, tokenSeq, pos, tables, stride,
            blockSize, rows, heads, kvHeads, headDim, scale, partition, splits, fp8Kv)) {
      return;
    }
    CudaNative.attention(ctx, out, partials, counters, q, ldq, kCache, vCache, tokenSeq, pos, tables, stride,
        blockSize, rows, heads, kvHeads, headDim, scale, partition, splits, prefillSegs, prefillSegsDevice, fp8Kv);
  }
}

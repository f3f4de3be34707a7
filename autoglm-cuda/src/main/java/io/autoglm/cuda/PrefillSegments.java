package io.autoglm.cuda;

import io.autoglm.backend.StepBatch;

/**
 * The sequences of an eager step whose query rows run the tensor-core prefill attention ({@code cuda.prefillAttn}):
 * those with at least {@code minRows} query tokens, as (first row, rows) pairs, on the host (the native launcher's
 * plan: these rows take the prefill kernel, every other row the decode kernels) and on the device (the prefill
 * kernel's map from its blocks to tiles). A graph step (decode only) has none, so its op sequence is the captured
 * one; {@code minRows} 0 turns the prefill kernel off.
 */
record PrefillSegments(int[] host, long device) {
  static final PrefillSegments NONE = new PrefillSegments(null, 0);

  static PrefillSegments of(CudaForwardStep step, StepBatch batch, int minRows, boolean graph) {
    if (graph || minRows == 0) {
      return NONE;
    }
    int[] segs = pairs(batch, minRows);
    if (segs.length == 0) {
      return NONE;
    }
    return new PrefillSegments(segs, step.upload(segs, segs.length, 0));
  }

  /** (queryStart, queryLen) of each sequence with at least minRows (>= 1) query tokens, in step order. */
  static int[] pairs(StepBatch batch, int minRows) {
    int n = 0;
    for (StepBatch.Sequence s : batch.sequences()) {
      n += s.queryLen() >= minRows ? 1 : 0;
    }
    int[] segs = new int[2 * n];
    int i = 0;
    for (StepBatch.Sequence s : batch.sequences()) {
      if (s.queryLen() >= minRows) {
        segs[i++] = s.queryStart();
        segs[i++] = s.queryLen();
      }
    }
    return segs;
  }
}

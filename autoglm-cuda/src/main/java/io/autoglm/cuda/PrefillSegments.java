package io.autoglm.cuda;

import io.autoglm.backend.StepBatch;

/**
 * The sequences of an eager step whose query rows run the tensor-core prefill attention ({@code cuda.prefillAttn}):
 * those with at least {@code minRows} query tokens, as (first row, rows) pairs, on the host (the native launcher's
 * plan: these rows take the prefill kernel, every other row the decode kernels) and on the device (the prefill
 * kernel's map from its blocks to tiles). A graph step (decode only) has none, so its op sequence is the captured
 * one; {@code minRows} 0 turns the prefill kernel off. The device copy rides in the step's token-to-table-row upload
 * ({@link #hostPairs}, then {@link #at}): no input copy of its own.
 */
record PrefillSegments(int[] host, long device) {
  static final PrefillSegments NONE = new PrefillSegments(null, 0);

  /** The (first row, rows) pairs of a step, or an empty array when it has none (graph step, minRows 0). */
  static int[] hostPairs(StepBatch batch, int minRows, boolean graph) {
    return graph || minRows == 0 ? new int[0] : pairs(batch, minRows);
  }

  /** The segments {@code host}, already copied to {@code device}; NONE when there are none. */
  static PrefillSegments at(int[] host, long device) {
    return host.length == 0 ? NONE : new PrefillSegments(host, device);
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

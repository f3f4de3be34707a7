package io.autoglm.cuda;

import io.autoglm.backend.StepBatch;

/** Shape facts of a step's batch that size its block tables and attention splits. */
final class StepShape {
  private StepShape() {}

  /** Block-table entries per sequence row: the most blocks any sequence's context needs (at least 1). */
  static int tableStride(StepBatch batch, int bs) {
    int needed = 1;
    for (StepBatch.Sequence s : batch.sequences()) {
      int blocks = s.blocksNeeded(bs);
      needed = Math.max(needed, blocks);
    }
    return needed;
  }

  /** Positions visible to the step's latest token: its position + 1 (at least 1). */
  static int maxVisible(StepBatch batch) {
    int maxVisible = 1;
    for (int p : batch.positions()) {
      maxVisible = Math.max(maxVisible, p + 1);
    }
    return maxVisible;
  }
}

package io.autoglm.sched;

import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * The flat arrays of one forward step, built from the scheduler's chunks.
 *
 * @param logitRows rows of the step whose logits are computed: a capturing sequence's every row, else the last
 *     row of each sampling chunk
 * @param firstLogitRow per chunk, the index in logitRows of its first computed row (capturing chunks)
 * @param sampleRows indices into logitRows of the rows that sample, in chunk order
 */
record StepInputs(StepBatch batch, int[] logitRows, int[] firstLogitRow, int[] sampleRows,
    List<SamplingRow> samplingRows, boolean anyCapture) {

  static StepInputs of(List<Scheduler.Chunk> chunks, int blockSize, int vocabLimit) {
    int total = chunks.stream().mapToInt(Scheduler.Chunk::numTokens).sum();
    int[] tokens = new int[total];
    int[] positions = new int[total];
    int[] slots = new int[total];
    List<StepBatch.Sequence> seqs = new ArrayList<>(chunks.size());
    List<Integer> logitRows = new ArrayList<>();
    int[] firstLogitRow = new int[chunks.size()];
    List<Integer> sampleRows = new ArrayList<>();
    List<SamplingRow> samplingRows = new ArrayList<>();
    boolean anyCapture = false;
    int t = 0;
    for (int i = 0; i < chunks.size(); i++) {
      Scheduler.Chunk c = chunks.get(i);
      Sequence s = c.seq();
      int[] table = s.blocks().table();
      int queryStart = t;
      for (int p = c.start(); p < c.start() + c.numTokens(); p++, t++) {
        tokens[t] = s.tokenAt(p);
        positions[t] = p;
        slots[t] = table[p / blockSize] * blockSize + p % blockSize;
      }
      seqs.add(new StepBatch.Sequence(queryStart, c.numTokens(), c.start() + c.numTokens(), table));
      firstLogitRow[i] = logitRows.size();
      if (s.captureLogits()) {
        anyCapture = true;
        for (int r = queryStart; r < t; r++) {
          logitRows.add(r);
        }
      } else if (c.samples()) {
        logitRows.add(t - 1);
      }
      if (c.samples()) {
        sampleRows.add(logitRows.size() - 1);
        samplingRows.add(s.samplingRow(vocabLimit));
      }
    }
    if (logitRows.isEmpty()) {
      logitRows.add(total - 1); // only prefill chunks that don't finish their prompt: one row keeps the head's shape
    }
    return new StepInputs(new StepBatch(tokens, positions, slots, seqs),
        logitRows.stream().mapToInt(Integer::intValue).toArray(), firstLogitRow,
        sampleRows.stream().mapToInt(Integer::intValue).toArray(), List.copyOf(samplingRows), anyCapture);
  }
}

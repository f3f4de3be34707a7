package io.autoglm.sched;

import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import java.util.ArrayList;
import java.util.Arrays;
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
    int total = 0;
    for (Scheduler.Chunk c : chunks) {
      total += c.numTokens();
    }
    int[] tokens = new int[total];
    int[] positions = new int[total];
    int[] slots = new int[total];
    List<StepBatch.Sequence> seqs = new ArrayList<>(chunks.size());
    int maxLogitRows = 1;
    for (Scheduler.Chunk c : chunks) {
      maxLogitRows += c.seq().captureLogits() ? c.numTokens() : 1;
    }
    int[] logitRows = new int[maxLogitRows];
    int numLogitRows = 0;
    int[] firstLogitRow = new int[chunks.size()];
    int[] sampleRows = new int[chunks.size()];
    int numSampleRows = 0;
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
      firstLogitRow[i] = numLogitRows;
      if (s.captureLogits()) {
        anyCapture = true;
        for (int r = queryStart; r < t; r++) {
          logitRows[numLogitRows++] = r;
        }
      } else if (c.samples()) {
        logitRows[numLogitRows++] = t - 1;
      }
      if (c.samples()) {
        sampleRows[numSampleRows++] = numLogitRows - 1;
        samplingRows.add(s.samplingRow(vocabLimit));
      }
    }
    if (numLogitRows == 0) { // only prefill chunks that don't finish their prompt: one row keeps the head's shape
      logitRows[numLogitRows++] = total - 1;
    }
    return new StepInputs(new StepBatch(tokens, positions, slots, seqs), Arrays.copyOf(logitRows, numLogitRows),
        firstLogitRow, Arrays.copyOf(sampleRows, numSampleRows), List.copyOf(samplingRows), anyCapture);
  }
}

package io.autoglm.model;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * Feeds sequences through a model in steps over a paged KV cache, the way the scheduler does: prefill chunks that
 * continue from the cache, and several sequences in one step. Block ids are handed out in descending order from the
 * top of the pool (block 0 stays unused) so that a sequence's blocks are neither contiguous nor ascending.
 */
final class StepRunner {
  private StepRunner() {}

  /** Logits of every token of {@code tokens}, fed in chunks of the given sizes (the last one takes the rest). */
  static float[][] chunked(GlmModel m, ComputeBackend backend, int[] tokens, int blockSize, int... chunks) {
    int blocks = (tokens.length + blockSize - 1) / blockSize;
    return chunked(m, backend, tokens, blockSize, blockTable(blocks, blocks + 1), blocks + 1, chunks);
  }

  /** The same over a given block table, in a pool of {@code poolBlocks} blocks. */
  static float[][] chunked(GlmModel m, ComputeBackend backend, int[] tokens, int blockSize, int[] table,
      int poolBlocks, int... chunks) {
    ModelConfig c = m.config();
    List<float[]> out = new ArrayList<>();
    try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), poolBlocks, blockSize, c.numKvHeads(),
        c.headDim()))) {
      int start = 0;
      for (int i = 0; start < tokens.length; i++) {
        int n = i < chunks.length ? Math.min(chunks[i], tokens.length - start) : tokens.length - start;
        int[] rows = java.util.stream.IntStream.range(0, n).toArray();
        StepBatch b = StepBatch.ofOneSequence(tokens, start, n, table, blockSize);
        try (ForwardStep s = backend.begin(b, kv)) {
          out.addAll(List.of(s.toHost(m.forward(s, rows))));
        }
        start += n;
      }
    }
    return out.toArray(new float[0][]);
  }

  /** All sequences prefilled in one step; returns each sequence's logits rows. */
  static List<float[][]> batched(GlmModel m, ComputeBackend backend, List<int[]> sequences, int blockSize) {
    ModelConfig c = m.config();
    int total = sequences.stream().mapToInt(s -> (s.length + blockSize - 1) / blockSize).sum();
    int[] all = blockTable(total, total + 1);
    int tokens = sequences.stream().mapToInt(s -> s.length).sum();
    int[] ids = new int[tokens];
    int[] pos = new int[tokens];
    int[] slots = new int[tokens];
    int[] rows = new int[tokens];
    List<StepBatch.Sequence> runs = new ArrayList<>();
    int t = 0;
    int nextBlock = 0;
    for (int[] seq : sequences) {
      int blocks = (seq.length + blockSize - 1) / blockSize;
      int[] table = java.util.Arrays.copyOfRange(all, nextBlock, nextBlock + blocks);
      nextBlock += blocks;
      runs.add(new StepBatch.Sequence(t, seq.length, seq.length, table));
      for (int j = 0; j < seq.length; j++, t++) {
        ids[t] = seq[j];
        pos[t] = j;
        slots[t] = table[j / blockSize] * blockSize + j % blockSize;
        rows[t] = t;
      }
    }
    List<float[][]> out = new ArrayList<>();
    try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), total + 1, blockSize, c.numKvHeads(),
        c.headDim()));
        ForwardStep s = backend.begin(new StepBatch(ids, pos, slots, runs), kv)) {
      float[][] logits = s.toHost(m.forward(s, rows));
      for (StepBatch.Sequence r : runs) {
        out.add(java.util.Arrays.copyOfRange(logits, r.queryStart(), r.queryStart() + r.queryLen()));
      }
    }
    return out;
  }

  /** Blocks poolSize-1, poolSize-2, ...: never block 0. */
  private static int[] blockTable(int blocks, int poolSize) {
    int[] table = new int[blocks];
    for (int i = 0; i < blocks; i++) {
      table[i] = poolSize - 1 - i;
    }
    return table;
  }

  /** max |a - b| over rows [0, rows) of a against rows [from, from + rows) of b... of equal width. */
  static double maxDiff(float[][] got, int gotFrom, float[][] want, int wantFrom, int rows) {
    double max = 0;
    for (int r = 0; r < rows; r++) {
      float[] g = got[gotFrom + r];
      float[] w = want[wantFrom + r];
      if (g.length != w.length) {
        throw new AssertionError("row width " + g.length + " != reference " + w.length);
      }
      for (int v = 0; v < g.length; v++) {
        max = Math.max(max, Math.abs(g[v] - w[v]));
      }
    }
    return max;
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.model.GlmModel;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal stand-in for the engine, for verification and benchmarks: sequences with fixed block tables, steps
 * built from (sequence, new tokens) chunks, greedy or seeded sampling on the device.
 */
final class StepDriver {
  private final ComputeBackend backend;
  private final GlmModel model;
  private final KvCache kv;
  private final int blockSize;

  /** A sequence: its block table and how many tokens are in the cache. */
  static final class Seq {
    final int[] blockTable;
    int cached;

    Seq(int[] blockTable) {
      this.blockTable = blockTable;
    }
  }

  /** New tokens of one sequence in a step. */
  record Chunk(Seq seq, int[] tokens) {}

  StepDriver(ComputeBackend backend, GlmModel model, KvCache kv) {
    this.backend = backend;
    this.model = model;
    this.kv = kv;
    this.blockSize = kv.layout().blockSizeTokens();
  }

  /** Sequences with consecutive blocks starting at {@code firstBlock}, each with room for maxTokens. */
  List<Seq> sequences(int count, int maxTokens, int firstBlock, boolean reversed) {
    int per = (maxTokens + blockSize - 1) / blockSize;
    List<Seq> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int[] t = new int[per];
      for (int j = 0; j < per; j++) {
        t[j] = firstBlock + i * per + (reversed ? per - 1 - j : j);
      }
      out.add(new Seq(t));
    }
    if (firstBlock + count * per > kv.layout().numBlocks()) {
      throw new IllegalArgumentException("KV cache has " + kv.layout().numBlocks() + " blocks, need "
          + (firstBlock + count * per));
    }
    return out;
  }

  private StepBatch batch(List<Chunk> chunks) {
    int total = chunks.stream().mapToInt(c -> c.tokens().length).sum();
    int[] ids = new int[total];
    int[] pos = new int[total];
    int[] slots = new int[total];
    List<StepBatch.Sequence> seqs = new ArrayList<>();
    int at = 0;
    for (Chunk c : chunks) {
      for (int i = 0; i < c.tokens().length; i++) {
        int p = c.seq().cached + i;
        ids[at + i] = c.tokens()[i];
        pos[at + i] = p;
        slots[at + i] = c.seq().blockTable[p / blockSize] * blockSize + p % blockSize;
      }
      seqs.add(new StepBatch.Sequence(at, c.tokens().length, c.seq().cached + c.tokens().length,
          c.seq().blockTable));
      at += c.tokens().length;
    }
    return new StepBatch(ids, pos, slots, seqs);
  }

  private static int[] lastRows(List<Chunk> chunks) {
    int[] rows = new int[chunks.size()];
    int at = 0;
    for (int i = 0; i < chunks.size(); i++) {
      at += chunks.get(i).tokens().length;
      rows[i] = at - 1;
    }
    return rows;
  }

  /** Runs one step and samples the next token of each chunk's sequence. */
  int[] step(List<Chunk> chunks, List<SamplingRow> sampling) {
    int[] next;
    try (ForwardStep s = backend.begin(batch(chunks), kv)) {
      Tensor logits = model.forward(s, lastRows(chunks));
      next = s.sample(logits, sampling);
    }
    chunks.forEach(c -> c.seq().cached += c.tokens().length);
    return next;
  }

  /** Runs one step and returns the logits of every row. */
  float[][] logits(List<Chunk> chunks) {
    StepBatch b = batch(chunks);
    int[] rows = new int[b.numTokens()];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = i;
    }
    float[][] out;
    try (ForwardStep s = backend.begin(b, kv)) {
      out = s.toHost(model.forward(s, rows));
    }
    chunks.forEach(c -> c.seq().cached += c.tokens().length);
    return out;
  }

  /** Runs one step and returns the logits of each chunk's last row. */
  float[][] lastLogits(List<Chunk> chunks) {
    float[][] out;
    try (ForwardStep s = backend.begin(batch(chunks), kv)) {
      out = s.toHost(model.forward(s, lastRows(chunks)));
    }
    chunks.forEach(c -> c.seq().cached += c.tokens().length);
    return out;
  }

  static List<SamplingRow> greedy(int n, int step) {
    List<SamplingRow> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(new SamplingRow(0, 0, 1, 0, step));
    }
    return rows;
  }
}

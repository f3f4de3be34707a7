package io.autoglm.cpu;

import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.cpu.NativeCpuBackend.NativeWeight;
import io.autoglm.sample.Sampler;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One forward step on the native backend. Its activations live in a native arena that {@link #close} frees at
 * once; every shape and index is checked here before the native call, which trusts them. Attention runs per query
 * row over the slots its sequence's block table names, so sequences of any length mix in one step.
 */
final class NativeForwardStep implements ForwardStep {
  private final StepBatch batch;
  private final NativeKvCache kv;
  private final Map<RopeSpec, float[][]> ropeTables = new HashMap<>(); // spec -> {cos, sin}, each (T × rot/2)
  private long step;

  NativeForwardStep(long ctx, StepBatch batch, NativeKvCache kv) {
    this.batch = batch;
    this.kv = kv;
    int[] seqs = new int[3 * batch.sequences().size()];
    int[] contextSlots = contextSlots(batch, kv, seqs);
    for (int i = 0; i < batch.numTokens(); i++) {
      if (batch.slots()[i] < 0 || batch.slots()[i] >= kv.slots()) {
        throw new IllegalArgumentException(String.format("token %d has KV slot %d, the cache has slots [0, %d)", i,
            batch.slots()[i], kv.slots()));
      }
    }
    this.step = CpuNative.stepBegin(ctx, batch.tokenIds(), batch.positions(), batch.slots(), seqs, contextSlots);
  }

  /** Each sequence's slots of positions 0..contextLen-1, back to back; fills seqs with (start, len, context). */
  private static int[] contextSlots(StepBatch batch, NativeKvCache kv, int[] seqs) {
    int bs = kv.layout().blockSizeTokens();
    int total = 0;
    for (StepBatch.Sequence s : batch.sequences()) {
      s.blocksNeeded(bs);
      total += s.contextLen();
    }
    int[] out = new int[total];
    int at = 0;
    for (int i = 0; i < batch.sequences().size(); i++) {
      StepBatch.Sequence s = batch.sequences().get(i);
      seqs[3 * i] = s.queryStart();
      seqs[3 * i + 1] = s.queryLen();
      seqs[3 * i + 2] = s.contextLen();
      for (int p = 0; p < s.contextLen(); p++) {
        int block = s.blockTable()[p / bs];
        if (block < 0 || block >= kv.layout().numBlocks()) {
          throw new IllegalArgumentException(String.format("sequence at token %d: block table entry %d is block %d, "
              + "the cache has blocks [0, %d)", s.queryStart(), p / bs, block, kv.layout().numBlocks()));
        }
        out[at++] = block * bs + p % bs;
      }
    }
    return out;
  }

  /** An fp32 activation in the step's arena: rows × cols with a row stride of ld floats. */
  record NativeTensor(long addr, int rows, int cols, int ld) implements Tensor {
    @Override
    public long[] shape() {
      return new long[] {rows, cols};
    }
  }

  private long step() {
    if (step == 0) {
      throw new IllegalStateException("the forward step is closed");
    }
    if (kv.owner().isClosed()) { // its weights and threads are gone
      throw new IllegalStateException("the cpu-native backend of this step is closed");
    }
    return step;
  }

  private static NativeTensor act(Tensor t, String op) {
    if (t instanceof NativeTensor n) {
      return n;
    }
    throw new IllegalArgumentException(op + ": " + t + " is not an activation of a cpu-native step");
  }

  private static NativeWeight weight(Tensor t, String op) {
    if (t instanceof NativeWeight w) {
      return w;
    }
    throw new IllegalArgumentException(op + ": " + t + " is not a cpu-native weight");
  }

  private static NativeWeight vector(Tensor t, long length, String op) {
    NativeWeight w = weight(t, op);
    if (w.matrix() || w.cols() != length) {
      throw new IllegalArgumentException(String.format("%s: weight of shape %s, expected (%d)", op,
          java.util.Arrays.toString(w.shape()), length));
    }
    return w;
  }

  private NativeTensor out(long addr, int rows, int cols) {
    return new NativeTensor(addr, rows, cols, cols);
  }

  @Override
  public Tensor embedding(Tensor table) {
    NativeWeight w = weight(table, "embedding");
    for (int i = 0; i < batch.numTokens(); i++) {
      int id = batch.tokenIds()[i];
      if (id < 0 || id >= w.rows()) {
        throw new IllegalArgumentException(String.format("token %d has id %d, the embedding has %d rows", i, id,
            w.rows()));
      }
    }
    return out(CpuNative.embedding(step(), w.handle(), 0), batch.numTokens(), (int) w.cols());
  }

  @Override
  public Tensor embedding(Tensor table, int firstRow) {
    NativeWeight w = weight(table, "embedding");
    return out(CpuNative.embedding(step(), w.handle(), firstRow), batch.numTokens(), (int) w.cols());
  }

  @Override
  public Tensor fromHost(float[] rowMajor, int rows, int cols) {
    if (rowMajor.length != rows * cols) {
      throw new IllegalArgumentException(String.format("fromHost: %d values do not fill (%d, %d)", rowMajor.length,
          rows, cols));
    }
    return out(CpuNative.fromHost(step(), rowMajor), rows, cols);
  }

  @Override
  public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
    NativeTensor a = act(x, "rmsNorm");
    NativeWeight w = vector(weight, a.cols(), "rmsNorm");
    return out(CpuNative.rmsNorm(step(), a.addr(), a.ld(), a.rows(), a.cols(), w.handle(), eps), a.rows(), a.cols());
  }

  @Override
  public Tensor add(Tensor a, Tensor b) {
    NativeTensor x = act(a, "add");
    NativeTensor y = act(b, "add");
    if (x.rows() != y.rows() || x.cols() != y.cols()) {
      throw new IllegalArgumentException(String.format("add: shapes (%d, %d) and (%d, %d) differ", x.rows(), x.cols(),
          y.rows(), y.cols()));
    }
    return out(CpuNative.add(step(), x.addr(), x.ld(), y.addr(), y.ld(), x.rows(), x.cols()), x.rows(), x.cols());
  }

  @Override
  public Tensor linear(Tensor x, Tensor w) {
    return linear(x, w, null);
  }

  @Override
  public Tensor linear(Tensor x, Tensor w, Tensor bias) {
    NativeTensor a = act(x, "linear");
    NativeWeight m = weight(w, "linear");
    if (!m.matrix() || m.cols() != a.cols()) {
      throw new IllegalArgumentException(String.format("linear: x (%d, %d) times a weight of shape %s",
          a.rows(), a.cols(), java.util.Arrays.toString(m.shape())));
    }
    long b = bias == null ? 0 : vector(bias, m.rows(), "linear bias").handle();
    return out(CpuNative.linear(step(), a.addr(), a.ld(), a.rows(), m.handle(), b), a.rows(), (int) m.rows());
  }

  @Override
  public Tensor siluMul(Tensor gateUp) {
    NativeTensor a = act(gateUp, "siluMul");
    if (a.cols() % 2 != 0) {
      throw new IllegalArgumentException("siluMul: gateUp has " + a.cols() + " columns, expected an even number");
    }
    return out(CpuNative.siluMul(step(), a.addr(), a.ld(), a.rows(), a.cols()), a.rows(), a.cols() / 2);
  }

  @Override
  public Tensor columns(Tensor x, int from, int width) {
    NativeTensor a = act(x, "columns");
    if (from < 0 || width < 0 || from + width > a.cols()) {
      throw new IllegalArgumentException(String.format("columns [%d, %d) of a tensor with %d", from, from + width,
          a.cols()));
    }
    return new NativeTensor(a.addr() + 4L * from, a.rows(), width, a.ld());
  }

  @Override
  public Tensor rope(Tensor x, int numHeads, RopeSpec spec) {
    NativeTensor a = act(x, "rope");
    if (a.rows() != batch.numTokens() || a.cols() != numHeads * spec.headDim()) {
      throw new IllegalArgumentException(String.format("rope: x is (%d, %d), expected (%d, %d × %d)", a.rows(),
          a.cols(), batch.numTokens(), numHeads, spec.headDim()));
    }
    float[][] cs = ropeTables.computeIfAbsent(spec, this::ropeTable);
    return out(CpuNative.rope(step(), a.addr(), a.ld(), numHeads, spec.headDim(), spec.rotaryDim(),
        spec.interleaved(), cs[0], cs[1]), a.rows(), a.cols());
  }

  /** cos and sin of position × inverse frequency in fp32, as transformers (and the DJL backend) compute them. */
  private float[][] ropeTable(RopeSpec spec) {
    float[] inv = spec.inverseFrequencies();
    int[] positions = batch.positions();
    float[] cos = new float[positions.length * inv.length];
    float[] sin = new float[cos.length];
    for (int i = 0; i < positions.length; i++) {
      for (int j = 0; j < inv.length; j++) {
        float angle = positions[i] * inv[j];
        cos[i * inv.length + j] = (float) Math.cos(angle);
        sin[i * inv.length + j] = (float) Math.sin(angle);
      }
    }
    return new float[][] {cos, sin};
  }

  @Override
  public void writeKv(int layer, Tensor k, Tensor v) {
    NativeTensor kt = act(k, "writeKv");
    NativeTensor vt = act(v, "writeKv");
    int width = kv.layout().numKvHeads() * kv.layout().headDim();
    checkLayer(layer);
    for (NativeTensor t : List.of(kt, vt)) {
      if (t.rows() != batch.numTokens() || t.cols() != width) {
        throw new IllegalArgumentException(String.format("writeKv: K/V is (%d, %d), expected (%d, %d)", t.rows(),
            t.cols(), batch.numTokens(), width));
      }
    }
    CpuNative.writeKv(step(), kv.handle(), layer, kt.addr(), kt.ld(), vt.addr(), vt.ld());
  }

  private void checkLayer(int layer) {
    if (layer < 0 || layer >= kv.layout().numLayers()) {
      throw new IllegalArgumentException("layer " + layer + ": the KV cache has " + kv.layout().numLayers());
    }
  }

  @Override
  public Tensor attention(int layer, Tensor q, int numHeads, float scale) {
    NativeTensor a = act(q, "attention");
    checkLayer(layer);
    int kvHeads = kv.layout().numKvHeads();
    int headDim = kv.layout().headDim();
    if (numHeads % kvHeads != 0 || a.rows() != batch.numTokens() || a.cols() != numHeads * headDim) {
      throw new IllegalArgumentException(String.format("attention: q is (%d, %d) with %d heads; expected (%d, %d × "
          + "%d) and heads a multiple of the %d KV heads", a.rows(), a.cols(), numHeads, batch.numTokens(), numHeads,
          headDim, kvHeads));
    }
    return out(CpuNative.attention(step(), kv.handle(), layer, a.addr(), a.ld(), numHeads, scale), a.rows(),
        a.cols());
  }

  @Override
  public Tensor rows(Tensor x, int[] rows) {
    NativeTensor a = act(x, "rows");
    for (int r : rows) {
      if (r < 0 || r >= a.rows()) {
        throw new IllegalArgumentException("rows: row " + r + " of a tensor with " + a.rows());
      }
    }
    return out(CpuNative.rows(step(), a.addr(), a.ld(), a.cols(), rows), rows.length, a.cols());
  }

  @Override
  public float[][] toHost(Tensor x) {
    NativeTensor a = act(x, "toHost");
    step();
    float[][] out = new float[a.rows()][a.cols()];
    CpuNative.toHost(a.addr(), a.ld(), a.rows(), a.cols(), out);
    return out;
  }

  /** Samples on the host, as the DJL backend does: the logits are copied over and each row drawn by the Sampler. */
  @Override
  public int[] sample(Tensor logits, List<SamplingRow> rows) {
    return Sampler.sampleRows(toHost(logits), rows);
  }

  @Override
  public void close() {
    if (step != 0) {
      CpuNative.stepEnd(step);
      step = 0;
    }
  }
}

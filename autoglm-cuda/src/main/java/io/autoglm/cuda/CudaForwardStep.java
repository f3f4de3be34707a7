package io.autoglm.cuda;

import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One forward step on the device. Ops launch kernels in stream order; the host waits only in {@link #sample} and
 * {@link #toHost}.
 *
 * <p>A decode step (every sequence has one query token) is padded to a bucket and runs in one of three modes: the
 * first step of a bucket runs eagerly (warming up cuBLAS and lazy module loading), the second is captured into a
 * CUDA graph, and later ones only replay the graph: their ops allocate the same arena addresses (the arena resets
 * every step) and launch nothing. A replay checks that the op sequence's fingerprint equals the captured one.
 * Step inputs (ids, positions, slots, block tables, sampling parameters) are copied from the pinned input mirror by
 * copies that the graph holds, so a replay only rewrites the mirror.
 */
final class CudaForwardStep implements ForwardStep {
  private static final int TARGET_ATTENTION_BLOCKS = 512;
  private static final int MAX_GRAPH_SPLITS = 128;
  /** The widest head the attention kernels take (attentionAnyK's per-lane accumulators). */
  static final int MAX_ATTENTION_HEAD_DIM = 256;

  private enum Mode { EAGER, CAPTURE, REPLAY }

  private final CudaBackend backend;
  private final long ctx;
  private final StepMemory memory;
  private final CudaKvCache kv;
  private final int tokens; // real tokens
  private final int phys; // tokens the kernels compute, >= tokens
  private final int tableStride; // block-table entries per sequence row (the widest context of this step)
  private final long tokenIds; // (phys) int32
  private final long positions; // (phys) int32
  private final long slots; // (phys) int32
  private final long tokenSeq; // (phys) int32: offset in ints of each token's row of tables (row · tableStride)
  private final long tables; // (seqRows, tableStride) int32 in the fixed table region; the last row: scratch block
  private final int partition; // attention positions per block; 0: per token, its context / splits (graph steps)
  private final int splits; // attention blocks per (token, KV head)
  private long partials; // (phys, partialsHeads, splits, headDim + 2) fp32, allocated by the first attention; or 0
  private int partialsHeads; // query heads the partials hold
  private final CudaBackend.DecodeGraphKey graphKey; // null: not a graph step
  private Mode mode = Mode.EAGER;
  private long fingerprint = 17;
  private int ops;
  private final CudaBackend.Profile profile; // null unless profiling
  private final List<String> profiled = new java.util.ArrayList<>(); // labels of the ops with events recorded
  private String label; // the next op's profile label, when more specific than its kind
  private static final int PROFILE_SPIN_MICROS = 50;
  private static final int PROFILE_EVENTS = 8192;
  private static final String[] OP_NAMES = {"?", "input copy", "embedding", "rmsNorm", "addRmsNorm", "add", "linear",
      "siluMul", "rope", "ropeWriteKv", "attention", "rows", "sample", "?", "headRmsNorm", "moe", "transfer",
      "ropeQkv", "linearSiluMul", "addRmsNorm+linearSiluMul", "addRmsNorm+qkv+rope",
      "qkv+rope", "embedding (vocab split)", "allReduce", "allGather", "dense copy"};

  CudaForwardStep(CudaBackend backend, StepBatch batch, CudaKvCache kv) {
    this.backend = backend;
    this.ctx = backend.ctx();
    this.profile = backend.profile();
    if (profile != null) {
      CudaNative.profileEvents(ctx, PROFILE_EVENTS);
    }
    this.memory = backend.memory();
    this.kv = kv;
    this.tokens = batch.numTokens();
    int bs = kv.layout().blockSizeTokens();
    boolean decode = batch.sequences().stream().allMatch(s -> s.queryLen() == 1);
    int needed = 1;
    for (StepBatch.Sequence s : batch.sequences()) {
      int blocks = (s.contextLen() + bs - 1) / bs;
      if (s.blockTable().length < blocks) {
        throw new IllegalArgumentException(String.format(
            "sequence at token %d has contextLen %d: needs %d blocks of %d tokens, its block table has %d",
            s.queryStart(), s.contextLen(), blocks, bs, s.blockTable().length));
      }
      needed = Math.max(needed, blocks);
    }
    boolean graph = decode && backend.graphsEnabled();
    this.phys = graph ? bucket(tokens) : tokens;
    this.tableStride = needed;
    // A graph depends on the padded token count only: the block tables live at a fixed address and are copied
    // outside the graph (any width), tokens find their row through tokenSeq offsets, and attention splits each
    // token's context over a split count fixed per bucket. So the graphs are one per bucket: bounded and fixed.
    this.graphKey = graph ? new CudaBackend.DecodeGraphKey(phys, kv.id()) : null;
    memory.reset();
    int seqRows = batch.sequences().size() + 1;
    int pad = seqRows - 1;
    int[] table = new int[seqRows * tableStride];
    java.util.Arrays.fill(table, kv.scratchBlock());
    int[] seqOf = new int[phys];
    java.util.Arrays.fill(seqOf, pad * tableStride);
    for (int i = 0; i < batch.sequences().size(); i++) {
      StepBatch.Sequence s = batch.sequences().get(i);
      java.util.Arrays.fill(seqOf, s.queryStart(), s.queryStart() + s.queryLen(), i * tableStride);
      System.arraycopy(s.blockTable(), 0, table, i * tableStride, (s.contextLen() + bs - 1) / bs);
    }
    this.tables = memory.tables(table, table.length, ctx); // queued before any capture begins
    if (graph) {
      if (backend.graph(graphKey) != null) {
        mode = Mode.REPLAY;
      } else if (!backend.firstSight(graphKey)) {
        mode = Mode.CAPTURE;
        CudaNative.beginCapture(ctx);
      }
    }
    int scratchSlot = kv.scratchBlock() * bs;
    this.tokenIds = upload(batch.tokenIds(), phys, 0);
    this.positions = upload(batch.positions(), phys, 0);
    this.slots = upload(batch.slots(), phys, scratchSlot);
    this.tokenSeq = upload(seqOf, phys, pad * tableStride);
    int maxVisible = 1;
    for (int p : batch.positions()) {
      maxVisible = Math.max(maxVisible, p + 1);
    }
    int kvHeads = kv.layout().numKvHeads();
    if (graph) {
      this.partition = 0;
      this.splits = graphSplits(phys, kvHeads);
    } else {
      int part = 32;
      while (part < maxVisible
          && (long) phys * kvHeads * ((maxVisible + part - 1) / part) > TARGET_ATTENTION_BLOCKS) {
        part *= 2;
      }
      this.partition = part;
      this.splits = (maxVisible + part - 1) / part;
    }
  }

  /**
   * Attention splits per (token, KV head) of a graph step: about {@link #TARGET_ATTENTION_BLOCKS} blocks in all, at
   * most {@link #MAX_GRAPH_SPLITS}; at run time each token uses only the splits its context fills (32 positions or
   * more each).
   */
  static int graphSplits(int phys, int kvHeads) {
    return Math.max(1, Math.min(MAX_GRAPH_SPLITS, TARGET_ATTENTION_BLOCKS / (phys * kvHeads)));
  }

  /** Padded decode sizes: powers of two to 8, multiples of 8 to 64, then multiples of 32. */
  static int bucket(int n) {
    if (n <= 8) {
      return ceilPow2(n);
    }
    return n <= 64 ? (n + 7) / 8 * 8 : (n + 31) / 32 * 32;
  }

  static int ceilPow2(int n) {
    return n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1;
  }

  private long upload(int[] values, int length, int padValue) {
    StepMemory.Input in = memory.input(4L * length);
    ByteBuffer b = in.host();
    for (int i = 0; i < length; i++) {
      b.putInt(i < values.length ? values[i] : padValue);
    }
    copyInput(in);
    return in.device();
  }

  private void copyInput(StepMemory.Input in) {
    track(1, in.device(), in.bytes());
    if (live()) {
      CudaNative.copyAsync(ctx, in.device(), in.hostAddress(), in.bytes());
    }
  }

  /** Whether ops launch work: not while replaying a captured graph. */
  private boolean live() {
    return mode != Mode.REPLAY && !skipping;
  }

  private boolean skipping; // the current op is one the timing diagnostic leaves out (CudaBackend.skipOpsForTiming)

  private void track(int op, long a, long b) {
    skipping = (backend.skipOps() & (1L << op)) != 0;
    fingerprint = (fingerprint * 1_000_003L + op) * 31 + a * 7 + b;
    ops++;
    if (profile != null && live()) { // end the previous op's timing, start this one's behind a spin kernel
      if (!profiled.isEmpty()) {
        CudaNative.profileMark(ctx, 2 * profiled.size() - 1, 0);
      }
      if (2 * profiled.size() + 2 > PROFILE_EVENTS) {
        throw new IllegalStateException("profile: more than " + PROFILE_EVENTS / 2 + " ops in one step");
      }
      profiled.add(label != null ? label : op < OP_NAMES.length ? OP_NAMES[op] : "op " + op);
      CudaNative.profileMark(ctx, 2 * profiled.size() - 2, PROFILE_SPIN_MICROS);
    }
    label = null;
  }

  /** Ends the profiled ops so far (before the host waits): their GPU times go into the backend's profile. */
  private void profileFlush() {
    if (profile == null || profiled.isEmpty()) {
      return;
    }
    CudaNative.profileMark(ctx, 2 * profiled.size() - 1, 0);
    float[] ms = CudaNative.profileElapsed(ctx, 2 * profiled.size());
    for (int i = 0; i < ms.length; i++) {
      profile.add(profiled.get(i), ms[i]);
    }
    profiled.clear();
  }

  private CudaActivation activation(int rows, int cols, boolean fp32) {
    long ptr = memory.allocate((long) phys(rows) * cols * (fp32 ? 4 : 2));
    return new CudaActivation(ptr, rows, phys(rows), cols, cols, fp32);
  }

  /** Rows the kernels compute for {@code rows} logical rows: the padded count in a graph step. */
  private int phys(int rows) {
    return rows == tokens ? phys : rows;
  }

  private static CudaActivation act(Tensor t) {
    if (t instanceof CudaActivation a) {
      if (a.fp32()) {
        throw new IllegalArgumentException("fp32 logits cannot feed another op");
      }
      return a;
    }
    throw new IllegalArgumentException("expected an activation of this step, got " + t);
  }

  private static CudaWeight weight(Tensor t) {
    if (t instanceof CudaWeight w) {
      return w;
    }
    throw new IllegalArgumentException("expected a CUDA weight, got " + t);
  }

  @Override
  public Tensor embedding(Tensor table) {
    return embedding(weight(table), 0, 2);
  }

  @Override
  public Tensor embedding(Tensor table, int firstRow) {
    if (firstRow < 0) {
      throw new IllegalArgumentException("embedding: firstRow must be >= 0, got " + firstRow);
    }
    return embedding(weight(table), firstRow, 22);
  }

  /** Rows {@code tokenIds - firstRow} of {@code w}, zero rows outside it; tracked as op {@code op}. */
  private Tensor embedding(CudaWeight w, int firstRow, int op) {
    CudaActivation out = activation(tokens, w.cols(), false);
    track(op, out.ptr(), w.ptr() + firstRow);
    if (live()) {
      CudaNative.embedding(ctx, out.ptr(), w.ptr(), tokenIds, out.physRows(), w.cols(), firstRow, w.rows());
    }
    return out;
  }

  /**
   * The sum of {@code x} over the ranks of an NCCL group ({@link NcclCommunicator}), into a new activation; padding
   * rows of a graph step are reduced too, so every rank's graph issues the same collective.
   */
  Tensor allReduceSum(long comm, Tensor x) {
    CudaActivation a = dense(act(x));
    CudaActivation out = activation(a.rows(), a.cols(), false);
    track(23, out.ptr(), a.ptr());
    if (live()) {
      CudaNative.ncclAllReduce(ctx, comm, a.ptr(), out.ptr(), (long) a.physRows() * a.cols(), 0);
    }
    return out;
  }

  /**
   * The ranks' column blocks of {@code x} side by side, rank 0's first: an all-gather into (ranks, rows, cols) and
   * one strided copy per rank into (rows, ranks · cols). bf16 activations or the fp32 logits.
   */
  Tensor allGatherColumns(long comm, int ranks, Tensor x) {
    if (!(x instanceof CudaActivation in)) {
      throw new IllegalArgumentException("expected an activation of this step, got " + x);
    }
    CudaActivation a = in.fp32() ? in : dense(in);
    if (a.ld() != a.cols()) {
      throw new IllegalArgumentException("fp32 tensors are always dense");
    }
    int bytes = a.elementBytes();
    long block = (long) a.physRows() * a.cols();
    long gathered = memory.allocate(block * ranks * bytes);
    long ptr = memory.allocate(block * ranks * bytes);
    CudaActivation out = new CudaActivation(ptr, a.rows(), a.physRows(), a.cols() * ranks, a.cols() * ranks,
        a.fp32());
    track(24, ptr, a.ptr() + ranks);
    if (live()) {
      CudaNative.ncclAllGather(ctx, comm, a.ptr(), gathered, block, a.fp32() ? 1 : 0);
      for (int r = 0; r < ranks; r++) {
        CudaNative.copy2dAsync(ctx, ptr + (long) r * a.cols() * bytes, (long) out.ld() * bytes,
            gathered + r * block * bytes, (long) a.cols() * bytes, (long) a.cols() * bytes, a.physRows());
      }
    }
    return out;
  }

  /** {@code a} itself when its rows are contiguous, else a dense copy (collectives need contiguous buffers). */
  private CudaActivation dense(CudaActivation a) {
    if (a.ld() == a.cols()) {
      return a;
    }
    CudaActivation out = activation(a.rows(), a.cols(), false);
    track(25, out.ptr(), a.ptr());
    if (live()) {
      CudaNative.copy2dAsync(ctx, out.ptr(), 2L * a.cols(), a.ptr(), 2L * a.ld(), 2L * a.cols(), a.physRows());
    }
    return out;
  }

  @Override
  public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
    CudaActivation a = act(x);
    CudaActivation out = activation(a.rows(), a.cols(), false);
    track(3, out.ptr(), a.ptr());
    if (live()) {
      CudaNative.rmsNorm(ctx, out.ptr(), a.ptr(), a.ld(), weight(weight).ptr(), out.physRows(), a.cols(), eps);
    }
    return out;
  }

  @Override
  public ResidualNorm addRmsNorm(Tensor a, Tensor b, Tensor weight, float eps) {
    CudaActivation x = act(a);
    CudaActivation y = act(b);
    sameShape(x, y);
    CudaActivation sum = activation(x.rows(), x.cols(), false);
    CudaActivation out = activation(x.rows(), x.cols(), false);
    track(4, out.ptr(), x.ptr() ^ y.ptr());
    if (live()) {
      CudaNative.addRmsNorm(ctx, sum.ptr(), out.ptr(), x.ptr(), x.ld(), y.ptr(), y.ld(), weight(weight).ptr(),
          sum.physRows(), x.cols(), eps);
    }
    return new ResidualNorm(sum, out);
  }

  private static void sameShape(CudaActivation x, CudaActivation y) {
    if (x.rows() != y.rows() || x.cols() != y.cols()) {
      throw new IllegalArgumentException(String.format("shapes differ: (%d, %d) and (%d, %d)",
          x.rows(), x.cols(), y.rows(), y.cols()));
    }
  }

  @Override
  public Tensor add(Tensor a, Tensor b) {
    CudaActivation x = act(a);
    CudaActivation y = act(b);
    sameShape(x, y);
    CudaActivation out = activation(x.rows(), x.cols(), false);
    track(5, out.ptr(), x.ptr() ^ y.ptr());
    if (live()) {
      CudaNative.add(ctx, out.ptr(), x.ptr(), x.ld(), y.ptr(), y.ld(), out.physRows(), x.cols());
    }
    return out;
  }

  @Override
  public Tensor linear(Tensor x, Tensor w) {
    return linear(x, weight(w), 0);
  }

  @Override
  public Tensor linear(Tensor x, Tensor w, Tensor bias) {
    return linear(x, weight(w), weight(bias).ptr());
  }

  private Tensor linear(Tensor x, CudaWeight w, long bias) {
    CudaActivation a = act(x);
    int out = w.rows();
    int in = w.cols();
    if (a.cols() != in) {
      throw new IllegalArgumentException(String.format("linear: input has %d features, weight %s expects %d",
          a.cols(), java.util.Arrays.toString(w.shape()), in));
    }
    CudaActivation y = activation(a.rows(), out, w.logitsHead());
    label = profile == null ? null : String.format("linear %dx%d%s (%d rows, %s)", out, in, bias != 0 ? "+bias" : "",
        a.physRows(), a.physRows() <= 8 && backend.gemvEnabled() ? "GEMV" : "cuBLAS");
    track(6, y.ptr(), a.ptr() ^ w.ptr());
    if (live()) {
      CudaNative.linear(ctx, y.ptr(), y.ld(), y.fp32(), a.ptr(), a.ld(), w.ptr(), bias, a.physRows(), in, out,
          backend.gemvEnabled());
    }
    return y;
  }

  @Override
  public Tensor columns(Tensor x, int from, int width) {
    CudaActivation a = act(x);
    if (from < 0 || width < 0 || from + width > a.cols()) {
      throw new IllegalArgumentException(String.format("columns [%d, %d) of a tensor with %d", from, from + width,
          a.cols()));
    }
    return new CudaActivation(a.ptr() + 2L * from, a.rows(), a.physRows(), width, a.ld(), false);
  }

  /** The gate_up GEMV with SiLU·mul in its epilogue for up to 8 rows; otherwise linear, then siluMul. */
  @Override
  public Tensor linearSiluMul(Tensor x, Tensor gateUp) {
    CudaActivation a = act(x);
    CudaWeight w = weight(gateUp);
    if (a.physRows() > 8 || !backend.gemvEnabled() || w.logitsHead() || w.rows() % 2 != 0 || a.cols() != w.cols()) {
      return siluMul(linear(x, gateUp));
    }
    int inter = w.rows() / 2;
    // allocated whether or not the fused kernel declines, so that a replayed graph's arena layout never changes
    CudaActivation gu = activation(a.rows(), w.rows(), false);
    CudaActivation out = activation(a.rows(), inter, false);
    label = profile == null ? null : String.format("linear+siluMul %dx%d (%d rows, GEMV)", w.rows(), w.cols(),
        a.physRows());
    track(18, out.ptr(), a.ptr() ^ w.ptr());
    if (live() && !CudaNative.linearSiluMul(ctx, out.ptr(), a.ptr(), a.ld(), w.ptr(), a.physRows(), w.cols(), inter)) {
      // the kernel declined (alignment, split): the unfused ops, into the same output
      CudaNative.linear(ctx, gu.ptr(), gu.ld(), false, a.ptr(), a.ld(), w.ptr(), 0, a.physRows(), w.cols(),
          w.rows(), true);
      CudaNative.siluMul(ctx, out.ptr(), gu.ptr(), gu.ld(), out.physRows(), inter);
    }
    return out;
  }

  /** Rows of at most 4 take the fused residual-norm GEMVs: the normed (rows, in) input fits 32 KiB of shared memory. */
  private boolean fusesNorm(int bit, CudaActivation x, CudaWeight w) {
    int rows = x.physRows();
    int in = x.cols();
    return backend.fuses(bit) && rows <= 4 && in % 8 == 0 && in <= 8192 && 2L * rows * in <= 32 * 1024
        && w.cols() == in && !w.logitsHead();
  }

  /** Residual add + RMSNorm in the gate_up GEMV's prologue and SiLU·mul in its epilogue, for up to 4 rows. */
  @Override
  public ResidualProjection addRmsNormLinearSiluMul(Tensor a, Tensor b, Tensor normWeight, float eps,
      Tensor gateUp) {
    CudaActivation x = act(a);
    CudaActivation y = act(b);
    CudaWeight w = weight(gateUp);
    sameShape(x, y);
    if (!fusesNorm(CudaBackend.FUSE_MLP_NORM, x, w) || w.rows() % 2 != 0) {
      return ForwardStep.super.addRmsNormLinearSiluMul(a, b, normWeight, eps, gateUp);
    }
    int inter = w.rows() / 2;
    CudaActivation sum = activation(x.rows(), x.cols(), false);
    CudaActivation out = activation(x.rows(), inter, false);
    label = profile == null ? null : String.format("addRmsNorm+linear+siluMul %dx%d (%d rows, GEMV)", w.rows(),
        w.cols(), x.physRows());
    track(19, out.ptr(), x.ptr() ^ y.ptr() ^ w.ptr());
    if (live() && !CudaNative.addRmsNormLinearSiluMul(ctx, sum.ptr(), out.ptr(), x.ptr(), x.ld(), y.ptr(), y.ld(),
        weight(normWeight).ptr(), eps, w.ptr(), x.physRows(), x.cols(), inter)) {
      throw new IllegalStateException(String.format(
          "the fused addRmsNorm+gate_up kernel declined %d rows × %d features", x.physRows(), x.cols()));
    }
    return new ResidualProjection(sum, out);
  }

  /**
   * Residual add + RMSNorm in the QKV GEMV's prologue, bias, RoPE of q and k and the KV write in its epilogue, for up
   * to 4 rows and interleaved RoPE; otherwise the separate ops.
   */
  @Override
  public ResidualProjection addRmsNormQkvRope(int layer, Tensor a, Tensor b, Tensor normWeight, float eps,
      Tensor qkv, Tensor bias, int numHeads, int numKvHeads, RopeSpec spec) {
    CudaActivation x = act(a);
    CudaActivation y = act(b);
    CudaWeight w = weight(qkv);
    sameShape(x, y);
    int headDim = kv.layout().headDim();
    checkKvSpec(numKvHeads, spec);
    if (w.rows() != (numHeads + 2 * numKvHeads) * headDim) {
      throw new IllegalArgumentException(String.format("the QKV weight has %d rows, expected (%d + 2 × %d) × %d",
          w.rows(), numHeads, numKvHeads, headDim));
    }
    if (layer < 0 || layer >= kv.layout().numLayers()) {
      throw new IllegalArgumentException("layer " + layer + " is outside the KV cache's " + kv.layout().numLayers());
    }
    boolean ropeFits = spec.interleaved() && headDim % 2 == 0 && spec.rotaryDim() % 2 == 0
        && backend.fuses(CudaBackend.FUSE_QKV_ROPE) && x.physRows() <= 8 && x.cols() % 8 == 0 && w.cols() == x.cols();
    if (!ropeFits) {
      return ForwardStep.super.addRmsNormQkvRope(layer, a, b, normWeight, eps, qkv, bias, numHeads, numKvHeads, spec);
    }
    long inv = backend.ropeTable(spec);
    long biasPtr = bias == null ? 0 : weight(bias).ptr();
    if (!fusesNorm(CudaBackend.FUSE_QKV_NORM, x, w)) { // the norm on its own, then one kernel for QKV + RoPE + KV
      ResidualNorm r = addRmsNorm(a, b, normWeight, eps);
      CudaActivation n = act(r.normed());
      CudaActivation q = activation(x.rows(), numHeads * headDim, false);
      label = profile == null ? null : String.format("qkv%s+rope %dx%d (%d rows, GEMV)", bias != null ? "+bias" : "",
          w.rows(), w.cols(), x.physRows());
      track(21, q.ptr(), kv.keys(layer) ^ n.ptr());
      if (live() && !CudaNative.linearQkvRope(ctx, q.ptr(), n.ptr(), n.ld(), w.ptr(), biasPtr, n.physRows(), n.cols(),
          kv.keys(layer), kv.values(layer), slots, positions, inv, numHeads, numKvHeads, headDim, spec.rotaryDim())) {
        throw new IllegalStateException(String.format("the fused QKV+RoPE kernel declined %d rows × %d features",
            n.physRows(), n.cols()));
      }
      return new ResidualProjection(r.sum(), q);
    }
    CudaActivation sum = activation(x.rows(), x.cols(), false);
    CudaActivation q = activation(x.rows(), numHeads * headDim, false);
    label = profile == null ? null : String.format("addRmsNorm+qkv%s+rope %dx%d (%d rows, GEMV)",
        bias != null ? "+bias" : "", w.rows(), w.cols(), x.physRows());
    track(20, q.ptr(), kv.keys(layer) ^ x.ptr() ^ y.ptr());
    if (live() && !CudaNative.addRmsNormQkvRope(ctx, sum.ptr(), q.ptr(), x.ptr(), x.ld(), y.ptr(), y.ld(),
        weight(normWeight).ptr(), eps, w.ptr(), biasPtr, x.physRows(), x.cols(),
        kv.keys(layer), kv.values(layer), slots, positions, inv, numHeads, numKvHeads, headDim, spec.rotaryDim())) {
      throw new IllegalStateException(String.format(
          "the fused addRmsNorm+QKV+RoPE kernel declined %d rows × %d features", x.physRows(), x.cols()));
    }
    return new ResidualProjection(sum, q);
  }

  @Override
  public Tensor siluMul(Tensor gateUp) {
    CudaActivation a = act(gateUp);
    CudaActivation out = activation(a.rows(), a.cols() / 2, false);
    track(7, out.ptr(), a.ptr());
    if (live()) {
      CudaNative.siluMul(ctx, out.ptr(), a.ptr(), a.ld(), out.physRows(), out.cols());
    }
    return out;
  }

  @Override
  public Tensor rope(Tensor x, int numHeads, RopeSpec spec) {
    CudaActivation a = act(x);
    checkHeads(a, numHeads, spec.headDim());
    long inv = backend.ropeTable(spec);
    CudaActivation out = activation(a.rows(), a.cols(), false);
    track(8, out.ptr(), a.ptr());
    if (live()) {
      CudaNative.rope(ctx, out.ptr(), a.ptr(), a.ld(), positions, inv, out.physRows(), numHeads, spec.headDim(),
          spec.rotaryDim(), spec.interleaved());
    }
    return out;
  }

  private static void checkHeads(CudaActivation a, int heads, int headDim) {
    if (a.cols() != heads * headDim) {
      throw new IllegalArgumentException(String.format("tensor has %d features, expected %d heads × %d",
          a.cols(), heads, headDim));
    }
  }

  @Override
  public void writeKv(int layer, Tensor k, Tensor v) {
    writeKv(layer, act(k), act(v), 0, null);
  }

  @Override
  public void ropeWriteKv(int layer, Tensor k, Tensor v, int numKvHeads, RopeSpec spec) {
    checkKvSpec(numKvHeads, spec);
    writeKv(layer, act(k), act(v), backend.ropeTable(spec), spec);
  }

  /** K rotated by {@code spec} must have the KV cache's head count and size. */
  private void checkKvSpec(int numKvHeads, RopeSpec spec) {
    if (numKvHeads != kv.layout().numKvHeads() || spec.headDim() != kv.layout().headDim()) {
      throw new IllegalArgumentException(String.format("K has %d heads × %d, the KV cache %d × %d",
          numKvHeads, spec.headDim(), kv.layout().numKvHeads(), kv.layout().headDim()));
    }
  }

  /** K and V written into {@code layer}'s cache must match its heads, and the layer must be one of its layers. */
  private void checkKvWrite(int layer, CudaActivation k, CudaActivation v) {
    checkHeads(k, kv.layout().numKvHeads(), kv.layout().headDim());
    checkHeads(v, kv.layout().numKvHeads(), kv.layout().headDim());
    if (layer < 0 || layer >= kv.layout().numLayers()) {
      throw new IllegalArgumentException("layer " + layer + " is outside the KV cache's " + kv.layout().numLayers());
    }
  }

  private void writeKv(int layer, CudaActivation k, CudaActivation v, long inv, RopeSpec spec) {
    int kvHeads = kv.layout().numKvHeads();
    int headDim = kv.layout().headDim();
    checkKvWrite(layer, k, v);
    track(9, kv.keys(layer), k.ptr() ^ v.ptr());
    if (live()) {
      CudaNative.ropeWriteKv(ctx, k.ptr(), k.ld(), v.ptr(), v.ld(), kv.keys(layer), kv.values(layer), slots,
          positions, inv, k.physRows(), kvHeads, headDim, spec == null ? 0 : spec.rotaryDim(),
          spec != null && spec.interleaved(), spec != null);
    }
  }

  /** rope(q), rope(k) and the KV write in one kernel. */
  @Override
  public Tensor ropeQWriteKv(int layer, Tensor q, int numHeads, Tensor k, Tensor v, int numKvHeads, RopeSpec spec) {
    CudaActivation qa = act(q);
    CudaActivation ka = act(k);
    CudaActivation va = act(v);
    int kvHeads = kv.layout().numKvHeads();
    int headDim = kv.layout().headDim();
    checkKvSpec(numKvHeads, spec);
    checkHeads(qa, numHeads, headDim);
    checkKvWrite(layer, ka, va);
    long inv = backend.ropeTable(spec);
    CudaActivation out = activation(qa.rows(), qa.cols(), false);
    track(17, out.ptr(), kv.keys(layer) ^ qa.ptr());
    if (live()) {
      CudaNative.ropeQkv(ctx, out.ptr(), qa.ptr(), qa.ld(), ka.ptr(), ka.ld(), va.ptr(), va.ld(), kv.keys(layer),
          kv.values(layer), slots, positions, inv, out.physRows(), numHeads, kvHeads, headDim, spec.rotaryDim(),
          spec.interleaved());
    }
    return out;
  }

  @Override
  public Tensor attention(int layer, Tensor q, int numHeads, float scale) {
    CudaActivation a = act(q);
    int kvHeads = kv.layout().numKvHeads();
    int headDim = kv.layout().headDim();
    checkHeads(a, numHeads, headDim);
    if (numHeads % kvHeads != 0 || headDim > MAX_ATTENTION_HEAD_DIM) {
      throw new IllegalArgumentException(String.format("attention: %d query heads over %d KV heads with headDim %d "
          + "(supported: query heads a multiple of the KV heads, any number per KV head; headDim at most %d)",
          numHeads, kvHeads, headDim, MAX_ATTENTION_HEAD_DIM));
    }
    if (splits > 1 && partialsHeads < numHeads) { // at the same arena offset in every step of this shape
      partials = memory.allocate(4L * phys * numHeads * splits * (headDim + 2));
      partialsHeads = numHeads;
    }
    CudaActivation out = activation(a.rows(), a.cols(), false);
    track(10, out.ptr(), a.ptr() + layer);
    if (live()) {
      // one counter per (token, block of query heads): at most all heads apart
      long counters = (long) out.physRows() * numHeads <= CudaBackend.SPLIT_COUNTERS ? backend.splitCounters() : 0;
      CudaNative.attention(ctx, out.ptr(), partials, counters, a.ptr(), a.ld(), kv.keys(layer), kv.values(layer), tokenSeq,
          positions, tables, 1, kv.layout().blockSizeTokens(), out.physRows(), numHeads, kvHeads, headDim,
          scale, partition, splits);
    }
    return out;
  }

  @Override
  public Tensor headRmsNorm(Tensor x, int numHeads, Tensor weight, float eps) {
    CudaActivation a = act(x);
    int headDim = a.cols() / numHeads;
    checkHeads(a, numHeads, headDim);
    CudaActivation out = activation(a.rows(), a.cols(), false);
    track(14, out.ptr(), a.ptr());
    if (live()) {
      CudaNative.headRmsNorm(ctx, out.ptr(), out.ld(), a.ptr(), a.ld(), weight(weight).ptr(), out.physRows(), numHeads,
          headDim, eps);
    }
    return out;
  }

  /** Router logits in fp32 on the device, then {@link MoeRouter}'s selection on the host (one wait per layer). */
  @Override
  public ExpertRouting route(Tensor x, MoeWeights weights, MoeRouter router) {
    CudaActivation a = act(x);
    CudaMoe.Weights w = moeWeights(weights);
    if (router.numExperts() != w.numExperts() || a.cols() != w.hidden()) {
      throw new IllegalArgumentException(String.format("router expects %d experts, layer weights hold %d "
          + "(hidden %d, input %d)", router.numExperts(), w.numExperts(), w.hidden(), a.cols()));
    }
    if (!live()) {
      throw new IllegalStateException("MoE routing cannot run inside a CUDA graph");
    }
    int t = a.rows();
    int e = w.numExperts();
    long logits = memory.allocate(4L * t * e);
    profileFlush();
    CudaNative.routerLogits(ctx, logits, a.ptr(), a.ld(), w.router(), t, w.hidden(), e);
    ByteBuffer host = backend.readback(4L * t * e);
    CudaNative.copyAsync(ctx, CudaNative.address(host), logits, 4L * t * e);
    CudaNative.synchronize(ctx);
    float[] l = new float[t * e];
    host.asFloatBuffer().get(l);
    CudaMoe.Plan p = CudaMoe.plan(l, t, w, router);
    return new CudaMoe.Routing(t, router.topK(), upload(p.tokenOfRow(), p.tokenOfRow().length, 0),
        upload(p.rowOfPair(), p.rowOfPair().length, 0), uploadFloats(p.pairWeight()),
        upload(p.expertIds(), p.expertIds().length, 0), upload(p.offsets(), p.offsets().length, 0), p.expertIds(),
        p.offsets(), p.maxRows());
  }

  /** Gather rows by expert, grouped [gate | up] GEMM, SiLU·mul, grouped down GEMM, weighted sum per token. */
  @Override
  public Tensor moe(Tensor x, MoeWeights weights, ExpertRouting routing) {
    CudaActivation a = act(x);
    CudaMoe.Weights w = moeWeights(weights);
    if (!(routing instanceof CudaMoe.Routing r) || r.numTokens() != a.rows()) {
      throw new IllegalArgumentException("moe needs the routing of this step's " + a.rows() + " tokens, got "
          + routing);
    }
    int pairs = r.numTokens() * r.topK();
    int h = w.hidden();
    int inter = w.intermediateSize();
    long xs = memory.allocate(2L * pairs * h);
    CudaNative.gather(ctx, xs, a.ptr(), a.ld(), r.tokenOfRow(), pairs, h, 2);
    long gu = memory.allocate(2L * pairs * 2 * inter);
    grouped(gu, xs, w.gateUp(), r, h, 2 * inter);
    long mid = memory.allocate(2L * pairs * inter);
    CudaNative.siluMul(ctx, mid, gu, 2 * inter, pairs, inter);
    long d = memory.allocate(2L * pairs * h);
    grouped(d, mid, w.down(), r, inter, h);
    CudaActivation out = activation(a.rows(), h, false);
    track(15, out.ptr(), a.ptr());
    CudaNative.moeCombine(ctx, out.ptr(), out.ld(), d, r.rowOfPair(), r.pairWeight(), r.numTokens(), r.topK(), h);
    return out;
  }

  /** y (P, out) = x (P, in) · W_eᵀ per run of rows: one grouped kernel for small runs, else cuBLAS per expert. */
  private void grouped(long y, long x, long stacked, CudaMoe.Routing r, int in, int out) {
    if (r.maxGroupRows() <= backend.moeGroupedMaxRows() && CudaNative.groupedGemv(ctx, y, x, stacked, r.expertIds(), r.offsets(), r.groups(),
        in, out)) {
      return;
    }
    for (int g = 0; g < r.groups(); g++) {
      int first = r.hostOffsets()[g];
      int rows = r.hostOffsets()[g + 1] - first;
      CudaNative.linear(ctx, y + 2L * first * out, out, false, x + 2L * first * in, in,
          stacked + 2L * r.hostExpertIds()[g] * out * in, 0, rows, in, out, backend.gemvEnabled());
    }
  }

  private static CudaMoe.Weights moeWeights(MoeWeights w) {
    if (w instanceof CudaMoe.Weights c) {
      return c;
    }
    throw new IllegalArgumentException("expected MoE weights of the CUDA backend, got " + w);
  }

  private long uploadFloats(float[] values) {
    StepMemory.Input in = memory.input(4L * values.length);
    in.host().asFloatBuffer().put(values);
    copyInput(in);
    return in.device();
  }

  /**
   * Pipeline stages' hand-over, device to device: ends {@code from}'s graph part and waits for it, then copies the
   * activation into {@code to}'s arena on {@code to}'s stream (in {@code to}'s graph when {@code to} is one).
   */
  static Tensor transfer(ForwardStep from, Tensor x, ForwardStep to) {
    if (!(from instanceof CudaForwardStep f) || !(to instanceof CudaForwardStep t)) {
      throw new IllegalArgumentException("CUDA activation transfer between " + from + " and " + to);
    }
    CudaActivation a = act(x);
    f.runGraph();
    f.profileFlush();
    CudaNative.synchronize(f.ctx);
    CudaActivation out = t.activation(a.rows(), a.cols(), false);
    if (a.ld() != a.cols() || out.physRows() != a.physRows()) {
      throw new IllegalArgumentException(String.format("transfer of (%d of %d, %d) ld %d into %d rows",
          a.rows(), a.physRows(), a.cols(), a.ld(), out.physRows()));
    }
    t.track(16, out.ptr(), a.ptr());
    if (t.live()) {
      CudaNative.copyAsync(t.ctx, out.ptr(), a.ptr(), 2L * a.physRows() * a.cols());
    }
    return out;
  }

  /** Rows of a bf16 activation or of the fp32 logits (the engine picks the rows it samples). */
  @Override
  public Tensor rows(Tensor x, int[] rows) {
    if (!(x instanceof CudaActivation a)) {
      throw new IllegalArgumentException("expected an activation of this step, got " + x);
    }
    boolean prefix = rows.length == a.rows();
    for (int i = 0; prefix && i < rows.length; i++) {
      prefix = rows[i] == i;
    }
    if (prefix) {
      return a;
    }
    if (a.fp32()) {
      runGraph(); // rows of the logits are picked after the graph, like sampling
    }
    for (int r : rows) {
      if (r < 0 || r >= a.rows()) {
        throw new IllegalArgumentException("row " + r + " is outside the tensor's " + a.rows() + " rows");
      }
    }
    long idx = upload(rows, rows.length, 0);
    long ptr = memory.allocate((long) rows.length * a.cols() * a.elementBytes());
    CudaActivation out = new CudaActivation(ptr, rows.length, rows.length, a.cols(), a.cols(), a.fp32());
    track(11, ptr, a.ptr());
    if (live()) {
      CudaNative.gather(ctx, ptr, a.ptr(), a.ld(), idx, rows.length, a.cols(), a.elementBytes());
    }
    return out;
  }

  /** A tensor-parallel rank's end of step: launches the captured or replayed graph part (its collectives too). */
  @Override
  public void complete() {
    runGraph();
    profileFlush();
  }

  /** Ends the graph part of the step: instantiates a capture, or checks and launches a replay. */
  private void runGraph() {
    if (mode == Mode.CAPTURE) {
      long exec = CudaNative.endCapture(ctx, false);
      backend.putGraph(graphKey, new CudaBackend.DecodeGraph(exec, fingerprint, ops));
      CudaNative.launchGraph(ctx, exec);
    } else if (mode == Mode.REPLAY) {
      CudaBackend.DecodeGraph g = backend.graph(graphKey);
      if (g.fingerprint() != fingerprint || g.ops() != ops) {
        throw new IllegalStateException(String.format("decode step of %d tokens issued %d ops that differ from "
            + "the %d ops captured for its bucket: the decoder must repeat its op sequence", tokens, ops, g.ops()));
      }
      CudaNative.launchGraph(ctx, g.exec());
    }
    mode = Mode.EAGER;
  }

  @Override
  public int[] sample(Tensor logits, List<SamplingRow> rows) {
    return CudaSampling.needed(rows) ? sampleWithLogprobs(logits, rows).tokens()
        : sampleOnDevice(logits(logits, rows), rows);
  }

  /**
   * Rows with a grammar's mask, penalties, logit bias, min-p or logprobs: processed, sampled and scored on the
   * device ({@link CudaSampling}); a step without them samples exactly as before.
   */
  @Override
  public io.autoglm.backend.Sampled sampleWithLogprobs(Tensor logits, List<SamplingRow> rows) {
    CudaActivation l = logits(logits, rows);
    if (!CudaSampling.needed(rows)) {
      return io.autoglm.backend.Sampled.of(sampleOnDevice(l, rows));
    }
    return new CudaSampling(this).sample(l.ptr(), l.ld(), sampleableColumns(rows, l.cols()), rows);
  }

  /** The fp32 logits to sample from, their graph part launched. */
  private CudaActivation logits(Tensor logits, List<SamplingRow> rows) {
    if (!(logits instanceof CudaActivation l) || !l.fp32()) {
      throw new IllegalArgumentException("sample needs the fp32 logits of the LM head, got " + logits);
    }
    if (rows.size() != l.rows()) {
      throw new IllegalArgumentException("logits have " + l.rows() + " rows, sampling rows " + rows.size());
    }
    runGraph(); // the graph holds the forward pass only, so it is the same whether toHost or sample ends it
    return l;
  }

  // ---- for CudaSampling: the step's memory, input copies, the sampling kernel and one read-back ----

  long context() {
    return ctx;
  }

  StepMemory stepMemory() {
    return memory;
  }

  void copyToDevice(StepMemory.Input in) {
    copyInput(in);
  }

  long sampleScratch(long bytes) {
    return memory.allocate(bytes);
  }

  /** Launches {@code sampleK} over {@code rows} rows; returns the device address of the picks. */
  long sampleKernel(long logits, int ld, int vocab, long params, int rows) {
    long out = memory.allocate(4L * rows);
    track(12, out, logits);
    CudaNative.sample(ctx, out, logits, ld, vocab, params, rows);
    return out;
  }

  /** Copies {@code aBytes} at {@code a} and then {@code bBytes} at {@code b} to the host, and waits for them. */
  ByteBuffer readBack(long a, long aBytes, long b, long bBytes) {
    profileFlush();
    ByteBuffer host = backend.readback(aBytes + bBytes);
    CudaNative.copyAsync(ctx, CudaNative.address(host), a, aBytes);
    if (bBytes > 0) {
      CudaNative.copyAsync(ctx, CudaNative.address(host) + aBytes, b, bBytes);
    }
    CudaNative.synchronize(ctx);
    return host;
  }

  /** Samples every row with the on-device kernel ({@code sampleK}); masks are not applied. */
  private int[] sampleOnDevice(CudaActivation l, List<SamplingRow> rows) {
    int n = l.physRows();
    StepMemory.Input params = memory.input(32L * n);
    ByteBuffer b = params.host();
    for (int i = 0; i < n; i++) {
      SamplingRow r = i < rows.size() ? rows.get(i) : new SamplingRow(0, 0, 1, 0, 0);
      b.putFloat(r.temperature()).putInt(r.topK()).putFloat(r.topP()).putInt(0).putLong(r.seed()).putInt(r.step())
          .putInt(0);
    }
    copyInput(params);
    long out = memory.allocate(4L * n);
    track(12, out, l.ptr());
    CudaNative.sample(ctx, out, l.ptr(), l.ld(), sampleableColumns(rows, l.cols()), params.device(), n);
    profileFlush();
    ByteBuffer host = backend.readback(4L * n);
    CudaNative.copyAsync(ctx, CudaNative.address(host), out, 4L * n);
    CudaNative.synchronize(ctx);
    int[] tokensOut = new int[rows.size()];
    host.asIntBuffer().get(tokensOut);
    return tokensOut;
  }

  /** The leading logits columns that may be picked: the rows' shared vocabulary limit (ids with no text excluded). */
  private static int sampleableColumns(List<SamplingRow> rows, int cols) {
    int limit = rows.isEmpty() ? cols : rows.get(0).sampleableColumns(cols);
    for (SamplingRow r : rows) {
      if (r.sampleableColumns(cols) != limit) {
        throw new IllegalArgumentException("sampling rows of one step must share one vocabLimit: " + limit + " and "
            + r.sampleableColumns(cols));
      }
    }
    return limit;
  }

  @Override
  public float[][] toHost(Tensor x) {
    if (!(x instanceof CudaActivation a)) {
      throw new IllegalArgumentException("toHost needs an activation of this step, got " + x);
    }
    runGraph();
    long src = a.ptr();
    if (!a.fp32()) {
      src = memory.allocate(4L * a.rows() * a.cols());
      CudaNative.toFloat(ctx, src, a.ptr(), a.ld(), a.rows(), a.cols());
    } else if (a.ld() != a.cols()) {
      throw new IllegalArgumentException("fp32 tensors are always dense");
    }
    profileFlush();
    long bytes = 4L * a.rows() * a.cols();
    ByteBuffer host = backend.readback(bytes);
    CudaNative.copyAsync(ctx, CudaNative.address(host), src, bytes);
    CudaNative.synchronize(ctx);
    float[][] out = new float[a.rows()][a.cols()];
    var floats = host.asFloatBuffer();
    for (float[] row : out) {
      floats.get(row);
    }
    return out;
  }

  @Override
  public void close() {
    try {
      if (mode == Mode.CAPTURE) {
        CudaNative.endCapture(ctx, true);
      }
      profileFlush();
      CudaNative.synchronize(ctx);
      if (profile != null) {
        profile.stepDone();
      }
    } finally {
      backend.stepClosed();
    }
  }
}

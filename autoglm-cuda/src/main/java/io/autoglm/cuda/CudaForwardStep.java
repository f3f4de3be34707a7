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
import java.util.Arrays;
import java.util.List;

/**
 * One forward step on the device. Ops launch kernels in stream order; the host waits only in {@link #sample} and
 * {@link #toHost}.
 *
 * <p>A decode step (every sequence has one query token) is padded to a bucket and runs in one of three modes
 * ({@link StepRecorder}): the first step of a bucket runs eagerly (warming up cuBLAS and lazy module loading), the
 * second is captured into a CUDA graph, and later ones only replay the graph: their ops allocate the same arena
 * addresses (the arena resets every step) and launch nothing. A replay checks that the op sequence's fingerprint
 * equals the captured one. Step inputs (ids, positions, slots, block tables, sampling parameters) are copied from the
 * pinned input mirror by copies that the graph holds, so a replay only rewrites the mirror.
 *
 * <p>This class holds the step's inputs and the dense ops; the fused GEMVs ({@link FusedStepOps}, chosen by
 * {@link FusionPolicy}), MoE ({@link StepMoe}), sampling ({@link StepSampling}) and the collectives
 * ({@link StepCollectives}) are in their own classes.
 */
final class CudaForwardStep implements ForwardStep {
  private static final int TARGET_ATTENTION_BLOCKS = 512;
  private static final int MAX_GRAPH_SPLITS = 128;
  /** The widest head the attention kernels take (attentionAnyK's per-lane accumulators). */
  static final int MAX_ATTENTION_HEAD_DIM = 256;

  final CudaBackend backend;
  final long ctx;
  final StepMemory memory;
  final CudaKvCache kv;
  final StepRecorder recorder;
  final FusionPolicy fusion;
  final int tokens; // real tokens
  private final int phys; // tokens the kernels compute, >= tokens
  private final int tableStride; // block-table entries per sequence row (the widest context of this step)
  private final long tokenIds; // (phys) int32
  final long positions; // (phys) int32
  final long slots; // (phys) int32
  private final long tokenSeq; // (phys) int32: offset in ints of each token's row of tables (row · tableStride)
  private final long tables; // (seqRows, tableStride) int32 in the fixed table region; the last row: scratch block
  private final int partition; // attention positions per block; 0: per token, its context / splits (graph steps)
  private final int splits; // attention blocks per (token, KV head)
  private long partials; // (phys, partialsHeads, splits, headDim + 2) fp32, allocated by the first attention; or 0
  private int partialsHeads; // query heads the partials hold
  private final PrefillSegments prefill; // the sequences whose rows run the tensor-core prefill attention

  CudaForwardStep(CudaBackend backend, StepBatch batch, CudaKvCache kv) {
    this.backend = backend;
    this.ctx = backend.ctx();
    this.memory = backend.memory();
    this.fusion = backend.fusion();
    this.kv = kv;
    this.tokens = batch.numTokens();
    int bs = kv.layout().blockSizeTokens();
    boolean graph = batch.sequences().stream().allMatch(s -> s.queryLen() == 1) && backend.graphsEnabled(tokens);
    this.phys = graph ? bucket(tokens) : tokens;
    this.tableStride = StepShape.tableStride(batch, bs);
    // A graph depends on the padded token count only: the block tables live at a fixed address and are copied
    // outside the graph (any width), tokens find their row through tokenSeq offsets, and attention splits each
    // token's context over a split count fixed per bucket. So the graphs are one per bucket: bounded and fixed.
    GraphCache.Key key = graph ? new GraphCache.Key(phys, kv.id()) : null;
    this.recorder = new StepRecorder(ctx, backend.graphs(), key, tokens, backend.diagnostics());
    memory.reset();
    int pad = batch.sequences().size(); // the scratch row of the tables
    int[] table = new int[(pad + 1) * tableStride];
    Arrays.fill(table, kv.scratchBlock());
    int[] seqOf = new int[phys];
    Arrays.fill(seqOf, pad * tableStride);
    for (int i = 0; i < batch.sequences().size(); i++) {
      StepBatch.Sequence s = batch.sequences().get(i);
      Arrays.fill(seqOf, s.queryStart(), s.queryStart() + s.queryLen(), i * tableStride);
      System.arraycopy(s.blockTable(), 0, table, i * tableStride, (s.contextLen() + bs - 1) / bs);
    }
    this.tables = memory.tables(table, table.length, ctx); // queued before any capture begins
    recorder.begin();
    this.tokenIds = upload(batch.tokenIds(), phys, 0);
    this.positions = upload(batch.positions(), phys, 0);
    this.slots = upload(batch.slots(), phys, kv.scratchBlock() * bs);
    int[] segs = PrefillSegments.hostPairs(batch, backend.settings().prefillAttn(), graph);
    this.tokenSeq = upload(seqOf, phys, pad * tableStride, segs);
    this.prefill = PrefillSegments.at(segs, tokenSeq + 4L * phys);
    int kvHeads = kv.layout().numKvHeads();
    this.partition = graph ? 0 : eagerPartition(phys, kvHeads, StepShape.maxVisible(batch));
    this.splits = graph ? DecodeAttention.graphSplits(backend.settings().decodeAttnTc(), phys, kvHeads)
        : (StepShape.maxVisible(batch) + partition - 1) / partition;
  }

  /**
   * Attention positions per block of an eager step: 32, doubled while the step would have more than
   * {@link #TARGET_ATTENTION_BLOCKS} (token, KV head, split) blocks.
   */
  static int eagerPartition(int phys, int kvHeads, int maxVisible) {
    int part = 32;
    while (part < maxVisible && (long) phys * kvHeads * ((maxVisible + part - 1) / part) > TARGET_ATTENTION_BLOCKS) {
      part *= 2;
    }
    return part;
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

  /** {@code values} padded to {@code length} ints, then {@code tail}, in one input copy; the device address. */
  long upload(int[] values, int length, int padValue, int... tail) {
    StepMemory.Input in = memory.ints(values, length, padValue, tail);
    copyInput(in);
    return in.device();
  }

  /** Queues an input's copy; its profile time ends right behind it (not at the next op, after host work). */
  void copyInput(StepMemory.Input in) {
    recorder.track(StepOp.INPUT_COPY, in.device(), in.bytes());
    if (recorder.live()) {
      CudaNative.copyAsync(ctx, in.device(), in.hostAddress(), in.bytes());
      recorder.endOp();
    }
  }

  CudaActivation activation(int rows, int cols, boolean fp32) {
    long ptr = memory.allocate((long) phys(rows) * cols * (fp32 ? 4 : 2));
    return new CudaActivation(ptr, rows, phys(rows), cols, cols, fp32);
  }

  /** Rows the kernels compute for {@code rows} logical rows: the padded count in a graph step. */
  private int phys(int rows) {
    return rows == tokens ? phys : rows;
  }

  static CudaActivation act(Tensor t) {
    if (t instanceof CudaActivation a) {
      if (a.fp32()) {
        throw new IllegalArgumentException("fp32 logits cannot feed another op");
      }
      return a;
    }
    throw new IllegalArgumentException("expected an activation of this step, got " + t);
  }

  static CudaWeight weight(Tensor t) {
    if (t instanceof CudaWeight w) {
      return w;
    }
    throw new IllegalArgumentException("expected a CUDA weight, got " + t);
  }

  @Override
  public Tensor embedding(Tensor table) {
    return embedding(weight(table), 0, StepOp.EMBEDDING);
  }

  @Override
  public Tensor embedding(Tensor table, int firstRow) {
    if (firstRow < 0) {
      throw new IllegalArgumentException("embedding: firstRow must be >= 0, got " + firstRow);
    }
    return embedding(weight(table), firstRow, StepOp.EMBEDDING_VOCAB_SPLIT);
  }

  /** Rows {@code tokenIds - firstRow} of {@code w}, zero rows outside it; tracked as {@code op}. */
  private Tensor embedding(CudaWeight w, int firstRow, StepOp op) {
    CudaActivation out = activation(tokens, w.cols(), false);
    recorder.track(op, out.ptr(), w.ptr() + firstRow);
    if (recorder.live()) {
      CudaNative.embedding(ctx, out.ptr(), w.ptr(), tokenIds, out.physRows(), w.cols(), firstRow, w.rows());
    }
    return out;
  }

  @Override
  public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
    CudaActivation a = act(x);
    CudaActivation out = activation(a.rows(), a.cols(), false);
    recorder.track(StepOp.RMS_NORM, out.ptr(), a.ptr());
    if (recorder.live()) {
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
    recorder.track(StepOp.ADD_RMS_NORM, out.ptr(), x.ptr() ^ y.ptr());
    if (recorder.live()) {
      CudaNative.addRmsNorm(ctx, sum.ptr(), out.ptr(), x.ptr(), x.ld(), y.ptr(), y.ld(), weight(weight).ptr(),
          sum.physRows(), x.cols(), eps);
    }
    return new ResidualNorm(sum, out);
  }

  static void sameShape(CudaActivation x, CudaActivation y) {
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
    recorder.track(StepOp.ADD, out.ptr(), x.ptr() ^ y.ptr());
    if (recorder.live()) {
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
    if (recorder.profiling()) {
      recorder.label(String.format("linear %dx%d%s (%d rows, %s)", out, in, bias != 0 ? "+bias" : "",
        a.physRows(), fusion.gemvKind(a.physRows(), w.isFp8(), w.fp8Mma())));
    }
    recorder.track(StepOp.LINEAR, y.ptr(), a.ptr() ^ w.ptr());
    if (recorder.live()) {
      FusedStepOps.linear(this, y, a, w, bias, fusion.gemv(a.physRows(), w.fp8Mma()));
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

  @Override
  public Tensor linearSiluMul(Tensor x, Tensor gateUp) {
    CudaActivation a = act(x);
    CudaWeight w = weight(gateUp);
    if (!fusion.linearSiluMul(a.physRows(), a.cols(), w.rows(), w.cols(), w.logitsHead(), w.fp8Mma())) {
      return siluMul(linear(x, gateUp));
    }
    return FusedStepOps.linearSiluMul(this, a, w);
  }

  @Override
  public ResidualProjection addRmsNormLinearSiluMul(Tensor a, Tensor b, Tensor normWeight, float eps,
      Tensor gateUp) {
    CudaActivation x = act(a);
    CudaActivation y = act(b);
    CudaWeight w = weight(gateUp);
    sameShape(x, y);
    if (!fusion.norm(CudaSettings.FUSE_MLP_NORM, x.physRows(), x.cols(), w.cols(), w.logitsHead() || w.isFp8())
        || w.rows() % 2 != 0) {
      return ForwardStep.super.addRmsNormLinearSiluMul(a, b, normWeight, eps, gateUp);
    }
    return FusedStepOps.addRmsNormLinearSiluMul(this, x, y, weight(normWeight), eps, w);
  }

  /**
   * Residual add + RMSNorm in the QKV GEMV's prologue, bias, RoPE of q and k and the KV write in its epilogue, for up
   * to 4 rows and interleaved RoPE (up to 8 rows with the norm on its own); otherwise the separate ops.
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
    FusedStepOps.Qkv q = new FusedStepOps.Qkv(layer, w, bias == null ? null : weight(bias), numHeads, numKvHeads,
        spec);
    if (!fusion.qkvRope(x.physRows(), x.cols(), w.cols(), spec.interleaved(), headDim, spec.rotaryDim(),
        w.isFp8(), w.fp8Mma())) {
      if (bias == null || fusion.gemv(x.physRows(), w.fp8Mma()) || w.isFp8()) {
        return ForwardStep.super.addRmsNormQkvRope(layer, a, b, normWeight, eps, qkv, bias, numHeads, numKvHeads,
            spec);
      }
      ResidualNorm r = addRmsNorm(a, b, normWeight, eps); // cuBLAS, then the bias in the RoPE kernel
      return new ResidualProjection(r.sum(), FusedStepOps.biasRopeQkv(this, act(linear(r.normed(), qkv)), q));
    }
    if (!fusion.norm(CudaSettings.FUSE_QKV_NORM, x.physRows(), x.cols(), w.cols(), w.logitsHead() || w.isFp8())) {
      ResidualNorm r = addRmsNorm(a, b, normWeight, eps); // the norm on its own, then one kernel for QKV + RoPE + KV
      return new ResidualProjection(r.sum(), FusedStepOps.qkvRope(this, act(r.normed()), q));
    }
    return FusedStepOps.addRmsNormQkvRope(this, x, y, weight(normWeight), eps, q);
  }

  @Override
  public Tensor siluMul(Tensor gateUp) {
    CudaActivation a = act(gateUp);
    CudaActivation out = activation(a.rows(), a.cols() / 2, false);
    recorder.track(StepOp.SILU_MUL, out.ptr(), a.ptr());
    if (recorder.live()) {
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
    recorder.track(StepOp.ROPE, out.ptr(), a.ptr());
    if (recorder.live()) {
      CudaNative.rope(ctx, out.ptr(), a.ptr(), a.ld(), positions, inv, out.physRows(), numHeads, spec.headDim(),
          spec.rotaryDim(), spec.interleaved());
    }
    return out;
  }

  static void checkHeads(CudaActivation a, int heads, int headDim) {
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
  void checkKvSpec(int numKvHeads, RopeSpec spec) {
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
    recorder.track(StepOp.ROPE_WRITE_KV, kv.keys(layer), k.ptr() ^ v.ptr());
    if (recorder.live()) {
      CudaNative.ropeWriteKv(ctx, k.ptr(), k.ld(), v.ptr(), v.ld(), kv.keys(layer), kv.values(layer), slots,
          positions, inv, k.physRows(), kvHeads, headDim, spec == null ? 0 : spec.rotaryDim(),
          spec != null && spec.interleaved(), spec != null, kv.fp8());
    }
  }

  /** rope(q), rope(k) and the KV write in one kernel. */
  @Override
  public Tensor ropeQWriteKv(int layer, Tensor q, int numHeads, Tensor k, Tensor v, int numKvHeads, RopeSpec spec) {
    return ropeQkv(layer, q, numHeads, k, v, numKvHeads, spec, 0);
  }

  /** {@link #ropeQWriteKv} with q, k and v first biased by {@code bias} (the QKV bias; 0: none). */
  Tensor ropeQkv(int layer, Tensor q, int numHeads, Tensor k, Tensor v, int numKvHeads, RopeSpec spec, long bias) {
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
    recorder.track(StepOp.ROPE_QKV, out.ptr(), kv.keys(layer) ^ qa.ptr() ^ bias);
    if (recorder.live()) {
      CudaNative.ropeQkv(ctx, out.ptr(), qa.ptr(), qa.ld(), ka.ptr(), ka.ld(), va.ptr(), va.ld(), kv.keys(layer),
          kv.values(layer), slots, positions, inv, out.physRows(), numHeads, kvHeads, headDim, spec.rotaryDim(),
          spec.interleaved(), bias, kv.fp8());
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
    recorder.track(StepOp.ATTENTION, out.ptr(), a.ptr() + layer);
    if (recorder.live()) {
      // one counter per (token, block of query heads): at most all heads apart
      long counters = (long) out.physRows() * numHeads <= CudaBackend.SPLIT_COUNTERS ? backend.splitCounters() : 0;
      DecodeAttention.launch(backend.settings().decodeAttnTc(), ctx, out.ptr(), partials, counters, a.ptr(), a.ld(),
          kv.keys(layer), kv.values(layer), tokenSeq, positions, tables, 1, kv.layout().blockSizeTokens(),
          out.physRows(), numHeads, kvHeads, headDim, scale, partition, splits, prefill.host(), prefill.device(),
          kv.fp8());
    }
    return out;
  }

  @Override
  public Tensor headRmsNorm(Tensor x, int numHeads, Tensor weight, float eps) {
    CudaActivation a = act(x);
    int headDim = a.cols() / numHeads;
    checkHeads(a, numHeads, headDim);
    CudaActivation out = activation(a.rows(), a.cols(), false);
    recorder.track(StepOp.HEAD_RMS_NORM, out.ptr(), a.ptr());
    if (recorder.live()) {
      CudaNative.headRmsNorm(ctx, out.ptr(), out.ld(), a.ptr(), a.ld(), weight(weight).ptr(), out.physRows(), numHeads,
          headDim, eps);
    }
    return out;
  }

  /** MoeRouter's selection on the device ({@link MoeDeviceRouting}), or on the host from the device's logits. */
  @Override
  public ExpertRouting route(Tensor x, MoeWeights weights, MoeRouter router) {
    return StepMoe.route(this, act(x), weights, router);
  }

  /** Gather rows by expert, grouped [gate | up] GEMM, SiLU·mul, grouped down GEMM, weighted sum per token. */
  @Override
  public Tensor moe(Tensor x, MoeWeights weights, ExpertRouting routing) {
    return StepMoe.moe(this, act(x), weights, routing);
  }

  @Override
  public int[] sample(Tensor logits, List<SamplingRow> rows) {
    return StepSampling.sample(this, logits, rows);
  }

  /** Rows with a grammar's mask, penalties, logit bias, min-p or logprobs are processed on the device. */
  @Override
  public io.autoglm.backend.Sampled sampleWithLogprobs(Tensor logits, List<SamplingRow> rows) {
    return StepSampling.sampleWithLogprobs(this, logits, rows);
  }

  long uploadFloats(float[] values) {
    StepMemory.Input in = memory.input(4L * values.length);
    in.host().asFloatBuffer().put(values);
    copyInput(in);
    return in.device();
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
      recorder.runGraph(); // rows of the logits are picked after the graph, like sampling
    }
    for (int r : rows) {
      if (r < 0 || r >= a.rows()) {
        throw new IllegalArgumentException("row " + r + " is outside the tensor's " + a.rows() + " rows");
      }
    }
    long idx = upload(rows, rows.length, 0);
    long ptr = memory.allocate((long) rows.length * a.cols() * a.elementBytes());
    CudaActivation out = new CudaActivation(ptr, rows.length, rows.length, a.cols(), a.cols(), a.fp32());
    recorder.track(StepOp.ROWS, ptr, a.ptr());
    if (recorder.live()) {
      CudaNative.gather(ctx, ptr, a.ptr(), a.ld(), idx, rows.length, a.cols(), a.elementBytes());
    }
    return out;
  }

  /** A tensor-parallel rank's end of step: launches the captured or replayed graph part (its collectives too). */
  @Override
  public void complete() {
    recorder.runGraph();
    recorder.flushProfile();
  }

  /** Host values as a bf16 activation of this step (rounded to nearest even); eager steps only. */
  @Override
  public Tensor fromHost(float[] rowMajor, int rows, int cols) {
    ByteBuffer host = backend.hostFloats(rowMajor, rows, cols, recorder.inGraph());
    CudaActivation out = activation(rows, cols, false);
    CudaNative.upload(ctx, out.ptr(), host, 2, rowMajor.length);
    return out;
  }

  @Override
  public float[][] toHost(Tensor x) {
    if (!(x instanceof CudaActivation a)) {
      throw new IllegalArgumentException("toHost needs an activation of this step, got " + x);
    }
    recorder.runGraph();
    long src = a.ptr();
    if (!a.fp32()) {
      src = memory.allocate(4L * a.rows() * a.cols());
      CudaNative.toFloat(ctx, src, a.ptr(), a.ld(), a.rows(), a.cols());
    } else if (a.ld() != a.cols()) {
      throw new IllegalArgumentException("fp32 tensors are always dense");
    }
    recorder.flushProfile();
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
      recorder.close();
    } finally {
      backend.stepClosed();
    }
  }
}

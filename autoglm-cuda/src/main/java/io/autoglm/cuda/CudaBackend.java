package io.autoglm.cuda;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertSlices;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.MoeSlices;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.FloatBuffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The CUDA backend on one device: bf16 weights and KV cache in device memory, bf16 kernels, cuBLAS GEMMs, and
 * decode steps replayed as CUDA graphs (one per batch-size bucket, whatever the contexts' lengths). Linear weights
 * may also be block-scaled FP8 (e4m3): from an FP8 checkpoint, or quantized at load with
 * {@code autoglm.quantization=fp8} ({@link Fp8Loader}; docs/fp8.md).
 *
 * <p>Memory: weights are uploaded from the mapped shards through pinned staging buffers; each step's activations
 * come from a fixed arena; the KV cache may take what {@link #kvCacheBudgetBytes()} reports, which keeps
 * {@code (1 - memoryFraction)} of the device memory that was free at creation untouched. One step runs at a time.
 *
 * <p>Properties: {@code cuda.cublasPath} (a libcublas to dlopen first), {@code cuda.ncclPath} (a libnccl to dlopen
 * first, for tensor parallelism), {@code cuda.arenaBytes} (activation arena,
 * default min(8 GiB, 15% of free memory)), {@code cuda.graphs} (default true), {@code cuda.gemv} (custom GEMV for
 * steps of at most 8 rows, default true), {@code cuda.moeGroupedMaxRows} (default 32), {@code cuda.moeDeviceRouting}
 * (MoE routing and its plan as kernels for steps of up to 256 rows, so MoE decode steps are CUDA graphs; false: on
 * the host, one wait per MoE layer; default true),
 * {@code cuda.maxGraphs} (captured decode graphs kept; the least recently used is destroyed beyond it; default 64,
 * above the 17 buckets of 256 sequences), {@code cuda.tableBytes} (the fixed block-table region, default 16 MiB),
 * {@code cuda.pdl} (programmatic dependent launch of a layer's kernels on sm_90+, default true),
 * {@code cuda.attnVariant} (2 = the chunked attention kernel, default; 1 = the first one), {@code cuda.gemvVariant}
 * (in-split GEMV sizing: the smallest split giving ≥ 1024·v blocks, default 1; 0 = one warp per feature),
 * {@code cuda.fuse} (what the small-batch GEMVs absorb: 1 = RoPE and the KV write into the QKV GEMV, the default;
 * 2 = also residual add + RMSNorm into it; 4 = residual add + RMSNorm into the gate_up GEMV; a mask),
 * {@code cuda.attnSplitHeads} (small-batch decode attention: a block per query head, not per KV head; default
 * true), {@code cuda.prefillAttn} (the query rows of a sequence with at least this many in an eager step run the
 * tensor-core prefill attention, headDim 64 or 128; default 16; 0 = off, every row runs the decode kernels),
 * {@code cuda.fp8MmaMaxRows} (FP8 linears beyond the GEMVs up to this many rows take the tensor-core FP8 GEMM,
 * larger ones cuBLAS on the dequantized weight; default 128, 0 = always cuBLAS), {@code cuda.decodeAttnTc} (steps
 * of at least this many rows × KV heads, none in a prefill segment, run the tensor-core decode attention, headDim 64
 * or 128; default 16, 0 = off), {@code cuda.gemm} (the GEMMs of linears the GEMVs do not take: {@code cublas}, the default,
 * cublasGemmEx; {@code lt}, cuBLASLt's heuristic's first algorithm with the bias in its epilogue; {@code lt-tuned},
 * the fastest of cublasGemmEx and cuBLASLt's candidates, timed per shape on the device at its first eager
 * call), {@code cuda.gemvMaxRows} (linears of at most this many rows, up to 8, take the small-batch GEMVs; more go to
 * cuBLAS, FP8 ones to the tensor-core FP8 GEMM; default 2), {@code cuda.gemvTc} (bf16 GEMVs of at least this many
 * rows take the tensor-core GEMV, and the fused QKV+RoPE and RMSNorm-prologue GEMVs give way to the separate ops
 * there; default 0 = off), {@code cuda.fp8GemvTc} (FP8 linears of at least this many rows, up to 8, with scale
 * blocks at least 128 columns wide take the tensor-core FP8 GEMVs, whatever {@code cuda.gemvMaxRows} says; fewer
 * rows the scalar FP8 GEMVs up to {@code cuda.gemvMaxRows}; default 2, 0 = never), {@code cuda.fp8ActMinRows} (FP8 linears of at least this many
 * rows beyond the GEMVs run FP8 × FP8 on cuBLASLt; default 4, 0 = never).
 * {@link CudaSettings} reads and checks them before the device is touched: a bad value or an unknown
 * {@code cuda.*} key fails with a message naming it. The settings are immutable for the backend's life; the
 * benchmark tools' diagnostics ({@link CudaDiagnostics}: profiles, op skipping, A/B settings, self-tests) are
 * package-private.
 */
public final class CudaBackend implements ComputeBackend {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CudaBackend.class);
  private static final long STAGING_BYTES = 64L << 20;
  /** (token, KV head) counters of the attention kernel's split merge; each use leaves them 0. */
  static final int SPLIT_COUNTERS = 1 << 16;

  private final int device;
  private final long ctx;
  private final long reservedBytes; // device memory this backend leaves free: (1 - fraction) of free at start
  private final FusionPolicy.Limits fusionLimits;
  private CudaSettings settings; // replaced whole, only through CudaDiagnostics
  private FusionPolicy fusion; // follows settings
  private boolean pdl; // settings.pdl() and the device supports it
  private boolean moeLoaded; // a MoE layer is loaded: decode graphs only where its routing runs on the device
  private boolean moeRoutedOnHost; // a MoE layer outside the device routing's limits: no graphs from then on
  private final StepMemory memory;
  private final long splitCounters; // (SPLIT_COUNTERS) int32, zeroed
  private final List<Long> allocations = new ArrayList<>();
  private final Map<RopeSpec, Long> ropeTables = new HashMap<>(); // spec -> device fp32 (rotaryDim / 2)
  private final GraphCache graphs;
  private final Fp8Loader fp8;
  private final boolean kvFp8; // autoglm.kvCacheDtype=fp8
  private final CudaDiagnostics diagnostics = new CudaDiagnostics(this);
  private ByteBuffer readback; // pinned, grows
  private boolean stepOpen;
  private boolean closed;

  /**
   * The activation arena when {@code cuda.arenaBytes} is not given: min(8 GB, 15% of free memory), raised to 1.1x
   * the engine's estimate of one step's activations (property {@code autoglm.stepActivationBytes}, from its
   * {@code maxBatchTokens}) so that a full step fits, but never above half of free memory (a larger step then fails
   * with the arena's own message, naming the property to raise).
   */
  static long defaultArena(long free, String stepHint) {
    long arena = Math.min(8L << 30, (long) (free * 0.15));
    if (stepHint != null) {
      long need = (long) (Long.parseLong(stepHint.trim()) * 1.1);
      arena = Math.max(arena, Math.min(need, free / 2));
    }
    return arena;
  }

  CudaBackend(BackendOptions options) {
    this.device = options.devices().isEmpty() ? 0 : options.devices().get(0);
    CudaSettings s = CudaSettings.from(options.properties()); // every property checked before the device
    boolean quantize = Fp8Loader.quantizeAtLoad(options);
    this.kvFp8 = kvCacheFp8(options);
    this.graphs = new GraphCache(s.maxGraphs());
    this.fusionLimits = FusionPolicy.Limits.fromNative();
    this.ctx = CudaNative.create(device, s.cublasPath().orElse(null), STAGING_BYTES);
    this.fp8 = new Fp8Loader(ctx, this::allocate, quantize);
    StepMemory stepMemory = null;
    try {
      long free = CudaNative.memInfo(ctx)[0];
      this.reservedBytes = (long) (free * (1 - options.memoryFraction()));
      applySettings(s, false);
      long arena = s.arenaBytes().orElse(defaultArena(free, options.properties().get("autoglm.stepActivationBytes")));
      stepMemory = new StepMemory(ctx, arena, s.inputArenaBytes(), s.tableBytes());
      this.memory = stepMemory;
      this.splitCounters = CudaNative.malloc(ctx, 4L * SPLIT_COUNTERS);
      allocations.add(splitCounters);
      CudaNative.memsetAsync(ctx, splitCounters, 0, 4L * SPLIT_COUNTERS);
      CudaNative.synchronize(ctx);
      this.readback = CudaNative.hostAlloc(1 << 20).order(ByteOrder.nativeOrder());
    } catch (RuntimeException | Error e) { // out of memory, say: give back what was taken, then the context
      try {
        allocations.forEach(ptr -> CudaNative.free(ctx, ptr));
        allocations.clear();
        if (stepMemory != null) {
          stepMemory.close();
        }
        CudaNative.destroy(ctx);
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /**
   * Makes {@code next} the settings in use: the process-wide kernel settings (GEMV variant, attention variant and
   * split heads, PDL) follow it, and with {@code dropGraphs} the captured decode graphs, which baked the old ones in,
   * are destroyed.
   */
  void applySettings(CudaSettings next, boolean dropGraphs) {
    if (dropGraphs) {
      dropGraphs();
    }
    CudaNative.setGemvVariant(next.gemvVariant());
    CudaNative.setGemvTc(next.gemv() ? next.gemvTc() : 0);
    CudaNative.setFp8GemvTc(next.gemv() ? next.fp8GemvTc() : 0);
    CudaNative.setAttentionVariant(next.attnVariant());
    this.pdl = next.pdl() && CudaNative.supportsPdl(device);
    CudaNative.setPdl(pdl);
    CudaNative.setAttentionSplitHeads(next.attnSplitHeads());
    CudaNative.setGemm(ctx, next.gemm().ordinal());
    logGemmNotes();
    this.settings = next;
    this.fusion = new FusionPolicy(next, fusionLimits);
  }

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public int weightBytesPerElement() {
    return 2;
  }

  /** Device memory of {@code bytes} that lives until close. */
  private long allocate(long bytes) {
    long ptr = CudaNative.malloc(ctx, bytes);
    allocations.add(ptr);
    return ptr;
  }

  @Override
  public Tensor weight(TensorSlice slice) {
    if (fp8.wantsFp8(List.of(slice), false)) {
      return fp8.load(List.of(slice), slice.shape()[slice.shape().length - 1], isLogitsHead(slice.name()));
    }
    int dtype = dtype(slice);
    long n = slice.elementCount();
    long ptr = CudaNative.malloc(ctx, Math.max(2 * n, 256));
    allocations.add(ptr);
    CudaNative.upload(ctx, ptr, slice.data(), dtype, n);
    return new CudaWeight(ptr, slice.shape().clone(), isLogitsHead(slice.name()));
  }

  @Override
  public Tensor fusedWeight(List<TensorSlice> rowBlocks) {
    return fused(rowBlocks, false);
  }

  /**
   * A linear weight's row blocks: as {@link #fusedWeight}, and quantized to FP8 at load under
   * {@code autoglm.quantization=fp8} (where the shape allows: {@link Fp8Loader#quantizable}).
   */
  @Override
  public Tensor linearWeight(List<TensorSlice> rowBlocks) {
    return fused(rowBlocks, true);
  }

  private Tensor fused(List<TensorSlice> rowBlocks, boolean linear) {
    if (rowBlocks.isEmpty()) {
      throw new IllegalArgumentException("fusedWeight needs at least one block, got none");
    }
    boolean vectors = rowBlocks.stream().allMatch(b -> b.shape().length == 1); // fused biases: one after another
    long cols = vectors ? 1 : rowBlocks.get(0).shape()[rowBlocks.get(0).shape().length - 1];
    long rows = 0;
    for (TensorSlice b : rowBlocks) {
      long[] shape = b.shape();
      if (!vectors && shape[shape.length - 1] != cols) {
        throw new IllegalArgumentException(String.format("fusedWeight: %s has %d columns, the first block %d",
            b.name(), shape[shape.length - 1], cols));
      }
      rows += b.elementCount() / cols;
    }
    List<TensorSlice> blocks = vectors ? rowBlocks : fp8.oneForm(rowBlocks, "weight " + rowBlocks.get(0).name(),
        linear);
    if (!vectors && fp8.wantsFp8(blocks, linear)) {
      return fp8.load(blocks, cols, blocks.stream().allMatch(b -> isLogitsHead(b.name())));
    }
    long ptr = CudaNative.malloc(ctx, Math.max(2 * rows * cols, 256));
    allocations.add(ptr);
    long at = ptr;
    for (TensorSlice b : blocks) {
      CudaNative.upload(ctx, at, b.data(), dtype(b), b.elementCount());
      at += 2 * b.elementCount();
    }
    return new CudaWeight(ptr, vectors ? new long[] {rows} : new long[] {rows, cols},
        rowBlocks.stream().allMatch(b -> isLogitsHead(b.name())));
  }

  /**
   * Whether linears with this tensor write fp32 logits: the LM head, or a tied embedding, whole or a rank's vocab
   * rows ("lm_head.weight[0:75776]" under tensor parallelism).
   */
  static boolean isLogitsHead(String name) {
    int shard = name.indexOf('[');
    String base = shard < 0 ? name : name.substring(0, shard);
    return base.equals("lm_head.weight") || base.endsWith("embed_tokens.weight");
  }

  /**
   * Stacks a MoE layer's experts for grouped GEMMs ((E, 2I, hidden) [gate | up] and (E, hidden, I), bf16 or FP8 with
   * each expert's scales one after another) and keeps the router in fp32 on the device, followed by its correction
   * bias (fp32, also kept on the host): decode steps of a MoE model are captured as CUDA graphs where they route on
   * the device ({@link MoeDeviceRouting}).
   */
  @Override
  public MoeWeights moeWeights(MoeSlices slices) {
    int e = slices.experts().size();
    int hidden = Math.toIntExact(slices.router().shape()[1]);
    int inter = Math.toIntExact(slices.experts().get(0).gate().shape()[0]);
    long expertElems = (long) inter * hidden;
    List<TensorSlice> gu = new ArrayList<>(); // [gate_0, up_0, gate_1, up_1, ...]
    List<TensorSlice> dn = new ArrayList<>();
    for (ExpertSlices ex : slices.experts()) {
      for (TensorSlice t : List.of(ex.gate(), ex.up(), ex.down())) {
        checkElements(t, expertElems);
      }
      gu.add(ex.gate());
      gu.add(ex.up());
      dn.add(ex.down());
    }
    // each stack in its own form: FP8 checkpoints may keep one projection (or a few tensors) in bf16
    gu = fp8.oneForm(gu, "experts' gate/up of " + slices.experts().get(0).gate().name(), true);
    dn = fp8.oneForm(dn, "experts' down of " + slices.experts().get(0).down().name(), true);
    long gateUp = allocate((fp8.wantsFp8(gu, true) ? 1 : 2) * 2 * expertElems * e);
    long down = allocate((fp8.wantsFp8(dn, true) ? 1 : 2) * expertElems * e);
    CudaMoe.Fp8Experts scales = null;
    Fp8Scales.Layout[] guScales = stackExperts(gu, 2, gateUp, 2 * expertElems);
    Fp8Scales.Layout[] dnScales = stackExperts(dn, 1, down, expertElems);
    if (guScales != null || dnScales != null) {
      fp8.ensureScratch(2 * 2 * expertElems); // the per-expert cuBLAS path of large groups dequantizes an expert
      scales = new CudaMoe.Fp8Experts(guScales == null ? null : stack(guScales),
          guScales == null ? 0 : guScales[0].scales().length, dnScales == null ? null : stack(dnScales),
          dnScales == null ? 0 : dnScales[0].scales().length);
    }
    float[] router = floats(slices.router());
    float[] bias = floats(slices.correctionBias());
    if (bias.length != e) {
      throw new IllegalArgumentException(String.format("correction bias %s has %d entries, expected one per expert "
          + "(%d)", slices.correctionBias().name(), bias.length, e));
    }
    long routerPtr = allocate(4L * (router.length + e)); // the bias right after the router
    CudaNative.uploadFloats(ctx, routerPtr, router);
    CudaNative.uploadFloats(ctx, routerPtr + 4L * router.length, bias);
    moeLoaded = true;
    return new CudaMoe.Weights(routerPtr, bias, gateUp, down, e, inter, hidden, scales);
  }

  /**
   * Uploads one expert stack ({@code per} tensors per expert, each expert {@code elems} elements from {@code base}):
   * as FP8 (e4m3 bytes; returns each expert's scale layout, every expert laid out as expert 0) or bf16 (returns null).
   */
  private Fp8Scales.Layout[] stackExperts(List<TensorSlice> parts, int per, long base, long elems) {
    int e = parts.size() / per;
    if (!fp8.wantsFp8(parts, true)) {
      long at = base;
      for (TensorSlice p : parts) {
        CudaNative.upload(ctx, at, p.data(), dtype(p), p.elementCount());
        at += 2 * p.elementCount();
      }
      return null;
    }
    Fp8Scales.Layout[] l = new Fp8Scales.Layout[e];
    for (int x = 0; x < e; x++) {
      l[x] = fp8.layout(parts.subList(x * per, (x + 1) * per), base + elems * x);
      if (l[x].rowShift() != l[0].rowShift() || l[x].colShift() != l[0].colShift()
          || l[x].scales().length != l[0].scales().length) {
        throw new IllegalArgumentException(String.format("expert %d of %s has FP8 scales laid out unlike expert 0 "
            + "(row shift %d, column shift %d, %d scales; expected %d, %d, %d)", x, parts.get(x * per).name(),
            l[x].rowShift(), l[x].colShift(), l[x].scales().length, l[0].rowShift(), l[0].colShift(),
            l[0].scales().length));
      }
    }
    return l;
  }

  private CudaWeight.Fp8 stack(Fp8Scales.Layout[] layouts) {
    int n = layouts[0].scales().length;
    float[] all = new float[Math.multiplyExact(n, layouts.length)];
    for (int x = 0; x < layouts.length; x++) {
      System.arraycopy(layouts[x].scales(), 0, all, x * n, n);
    }
    long ptr = allocate(Math.max(4L * all.length, 256));
    CudaNative.uploadFloats(ctx, ptr, all);
    return new CudaWeight.Fp8(ptr, layouts[0].scaleCols(), layouts[0].rowShift(), layouts[0].colShift());
  }

  private static void checkElements(TensorSlice slice, long elements) {
    if (slice.elementCount() != elements) {
      throw new IllegalArgumentException(String.format("expert tensor %s has %d elements, expected %d",
          slice.name(), slice.elementCount(), elements));
    }
  }

  private static float[] floats(TensorSlice slice) {
    float[] out = new float[Math.toIntExact(slice.elementCount())];
    Widening.toFloat32(slice, 0, out.length, FloatBuffer.wrap(out));
    return out;
  }

  static int dtype(TensorSlice slice) {
    return switch (slice.dtype()) {
      case BF16 -> 0;
      case F16 -> 1;
      case F32 -> 2;
      default -> throw new IllegalArgumentException(
          "tensor " + slice.name() + ": dtype " + slice.dtype() + " is not supported (F32, F16, BF16)");
    };
  }

  @Override
  public KvCache allocateKv(KvLayout layout) {
    return new CudaKvCache(this, layout, kvFp8);
  }

  @Override
  public int kvBytesPerElement() {
    return kvFp8 ? 1 : 2;
  }

  /** fromHost's checked values in a direct buffer of native order, for {@link CudaNative#upload} (dtype F32). */
  ByteBuffer hostFloats(float[] rowMajor, int rows, int cols, boolean inGraph) {
    if (rows < 1 || cols < 1 || rowMajor.length != (long) rows * cols) {
      throw new IllegalArgumentException(String.format("fromHost: %d values do not fill (%d, %d)", rowMajor.length,
          rows, cols));
    }
    if (inGraph) {
      throw new IllegalStateException("fromHost in a CUDA-graph step: a graph cannot hold a host upload");
    }
    ByteBuffer host = ByteBuffer.allocateDirect(4 * rowMajor.length).order(ByteOrder.nativeOrder());
    host.asFloatBuffer().put(rowMajor);
    return host;
  }

  /**
   * The system property that admits {@code autoglm.kvCacheDtype=fp8} on this backend while its FP8 KV cache has not
   * yet been checked on a GPU (the device stages set it for CudaBackendContractTest's FP8 checks).
   */
  static final String FP8_KV_UNCHECKED = "autoglm.cuda.fp8KvUnchecked";

  /** Whether the options ask for an FP8 KV cache; refused by name unless {@link #FP8_KV_UNCHECKED} admits it. */
  static boolean kvCacheFp8(BackendOptions options) {
    boolean fp8 = options.kvCacheFp8("cuda", true);
    if (fp8 && !Boolean.getBoolean(FP8_KV_UNCHECKED)) {
      throw new IllegalArgumentException("backend property " + BackendOptions.KV_CACHE_DTYPE + " is fp8, which the "
          + "cuda backend does not take yet: its FP8 KV cache is built but not yet checked on a GPU "
          + "(docs/fp8.md#fp8-kv-cache); use auto");
    }
    return fp8;
  }

  @Override
  public ForwardStep begin(StepBatch batch, KvCache kv) {
    if (stepOpen) {
      throw new IllegalStateException("a forward step is still open: close it before beginning the next");
    }
    if (!(kv instanceof CudaKvCache cache)) {
      throw new IllegalArgumentException("KV cache " + kv + " was not allocated by the CUDA backend");
    }
    stepOpen = true;
    try {
      return new CudaForwardStep(this, batch, cache);
    } catch (RuntimeException e) {
      stepOpen = false;
      throw e;
    }
  }

  @Override
  public OptionalLong kvCacheBudgetBytes() {
    return OptionalLong.of(Math.max(0, CudaNative.memInfo(ctx)[0] - reservedBytes));
  }

  /**
   * Loads NCCL as tensor parallelism does (libnccl.so.2 from the library path, or the system property
   * {@code cuda.ncclPath}) and returns its version, e.g. "2.27.3"; fails with a sentence naming what was tried.
   */
  static String ncclVersion() {
    return NcclCommunicator.version(System.getProperty("cuda.ncclPath"));
  }

  void dropGraphs() {
    CudaNative.synchronize(ctx);
    graphs.clear();
  }

  /** The device's name, compute capability, SM count and memory. */
  public String deviceDescription() {
    return CudaNative.deviceName(device);
  }

  /** The CUDA device ordinal this backend runs on. */
  public int device() {
    return device;
  }

  CudaDiagnostics diagnostics() {
    return diagnostics;
  }

  CudaSettings settings() {
    return settings;
  }

  FusionPolicy fusion() {
    return fusion;
  }

  boolean pdlInUse() {
    return pdl;
  }

  int capturedGraphs() {
    return graphs.size();
  }

  /** Largest run of rows of one expert that the grouped GEMV kernel takes; larger runs go to cuBLAS per expert. */
  int moeGroupedMaxRows() {
    return settings.moeGroupedMaxRows();
  }

  /** The property cuda.ncclPath, if set. */
  java.util.Optional<String> ncclPath() {
    return settings.ncclPath();
  }

  long ctx() {
    return ctx;
  }

  /** The bf16 scratch that FP8 linears on the cuBLAS path dequantize into (0 when no FP8 weight is loaded). */
  long fp8Scratch() {
    return fp8.scratch();
  }

  /** The size of {@link #fp8Scratch} in bytes (the FP8 × FP8 path quantizes activations into it when they fit). */
  long fp8ScratchBytes() {
    return fp8.scratchBytes();
  }

  long splitCounters() {
    return splitCounters;
  }

  StepMemory memory() {
    return memory;
  }

  GraphCache graphs() {
    return graphs;
  }

  /**
   * Whether a decode step of {@code tokens} tokens is a graph step: graphs on, no profile, and for a MoE model its
   * routing on the device (on, within its limits and row count, no routing observer).
   */
  boolean graphsEnabled(int tokens) {
    return settings.graphs() && diagnostics.profile() == null && (!moeLoaded || settings.moeDeviceRouting()
        && !moeRoutedOnHost && CudaForwardStep.bucket(tokens) <= MoeDeviceRouting.MAX_TOKENS
        && MoeDeviceRouting.observer() == null);
  }

  /** A MoE layer routed on the host because the device routing does not take it: no graphs from now on. */
  void moeRoutedOnHost() {
    moeRoutedOnHost = true;
  }

  boolean gemvEnabled() {
    return settings.gemv();
  }

  long ropeTable(RopeSpec spec) {
    return ropeTables.computeIfAbsent(spec, s -> {
      float[] inv = s.inverseFrequencies();
      long ptr = CudaNative.malloc(ctx, Math.max(4L * inv.length, 256));
      allocations.add(ptr);
      CudaNative.uploadFloats(ctx, ptr, inv);
      return ptr;
    });
  }

  /** Pinned host memory of at least {@code bytes}, reused across steps. */
  ByteBuffer readback(long bytes) {
    if (readback.capacity() < bytes) {
      CudaNative.hostFree(readback);
      readback = CudaNative.hostAlloc(Math.max(bytes, 2L * readback.capacity())).order(ByteOrder.nativeOrder());
    }
    readback.clear();
    return readback;
  }

  void stepClosed() {
    stepOpen = false;
    logGemmNotes();
  }

  /** The GEMM path's log lines (gemm_lt.cu: a cuBLASLt fallback for a shape, or the library missing), once each. */
  private void logGemmNotes() {
    String notes = CudaNative.gemmNotes(ctx);
    if (notes != null) {
      notes.lines().forEach(line -> LOG.warn("device {}: {}", device, line));
    }
  }

  void kvClosed(CudaKvCache kv) {
    graphs.dropKv(kv.id());
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    CudaNative.synchronize(ctx);
    graphs.close();
    fp8.close();
    allocations.forEach(ptr -> CudaNative.free(ctx, ptr));
    allocations.clear();
    memory.close();
    CudaNative.hostFree(readback);
    CudaNative.destroy(ctx);
  }
}

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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The CUDA backend on one device: bf16 weights and KV cache in device memory, bf16 kernels, cuBLAS GEMMs, and
 * decode steps replayed as CUDA graphs (one per batch-size bucket, whatever the contexts' lengths).
 *
 * <p>Memory: weights are uploaded from the mapped shards through pinned staging buffers; each step's activations
 * come from a fixed arena; the KV cache may take what {@link #kvCacheBudgetBytes()} reports, which keeps
 * {@code (1 - memoryFraction)} of the device memory that was free at creation untouched. One step runs at a time.
 *
 * <p>Properties: {@code cuda.cublasPath} (a libcublas to dlopen first), {@code cuda.ncclPath} (a libnccl to dlopen
 * first, for tensor parallelism), {@code cuda.arenaBytes} (activation arena,
 * default min(8 GiB, 15% of free memory)), {@code cuda.graphs} (default true), {@code cuda.gemv} (custom GEMV for
 * steps of at most 8 rows, default true), {@code cuda.moeGroupedMaxRows} (default 32),
 * {@code cuda.maxGraphs} (captured decode graphs kept; the least recently used is destroyed beyond it; default 64,
 * above the 17 buckets of 256 sequences), {@code cuda.tableBytes} (the fixed block-table region, default 16 MiB),
 * {@code cuda.pdl} (programmatic dependent launch of a layer's kernels on sm_90+, default true),
 * {@code cuda.attnVariant} (2 = the chunked attention kernel, default; 1 = the first one), {@code cuda.gemvVariant}
 * (in-split GEMV sizing: the smallest split giving ≥ 1024·v blocks, default 1; 0 = one warp per feature),
 * {@code cuda.fuse} (what the small-batch GEMVs absorb: 1 = RoPE and the KV write into the QKV GEMV, the default;
 * 2 = also residual add + RMSNorm into it; 4 = residual add + RMSNorm into the gate_up GEMV; a mask),
 * {@code cuda.attnSplitHeads} (small-batch decode attention: a block per query head, not per KV head; default
 * true). {@link CudaSettings} reads and checks them before the device is touched: a bad value or an unknown
 * {@code cuda.*} key fails with a message naming it.
 */
public final class CudaBackend implements ComputeBackend {
  private static final long STAGING_BYTES = 64L << 20;

  private final int device;
  private final java.util.Optional<String> ncclPath;
  private final long ctx;
  private final long reservedBytes; // device memory this backend leaves free: (1 - fraction) of free at start
  private boolean graphsEnabled;
  private boolean gemvEnabled;
  private static final java.util.concurrent.atomic.AtomicInteger GRAPHS_CAPTURED =
      new java.util.concurrent.atomic.AtomicInteger();
  private final int moeGroupedMaxRows;
  private boolean hostRouting; // a MoE layer is loaded: its steps wait for the host, so no CUDA graphs
  private final StepMemory memory;
  /** (token, KV head) counters of the attention kernel's split merge; each use leaves them 0. */
  static final int SPLIT_COUNTERS = 1 << 16;
  private final long splitCounters;
  private final List<Long> allocations = new ArrayList<>();
  private final Map<RopeSpec, Long> ropeTables = new HashMap<>(); // spec -> device fp32 (rotaryDim / 2)
  private final int maxGraphs; // LRU bound on captured graphs; evicted ones are destroyed
  private final Map<DecodeGraphKey, DecodeGraph> graphs = new java.util.LinkedHashMap<>(16, 0.75f, true);
  private final Set<DecodeGraphKey> warmedUp = new HashSet<>();
  private ByteBuffer readback; // pinned, grows
  private boolean stepOpen;
  private boolean closed;

  /**
   * Identifies a captured decode graph: the padded token count (a batch bucket) and the KV cache. Block-table width
   * and context length are not part of it, so a model has at most one graph per bucket: with
   * {@code maxRunningSequences} 256, 17 graphs ({@link CudaForwardStep#bucket}).
   */
  record DecodeGraphKey(int paddedTokens, long kvId) {}

  /** An instantiated graph and the fingerprint of the op sequence it was captured from. */
  record DecodeGraph(long exec, long fingerprint, int ops) {}

  CudaBackend(BackendOptions options) {
    this.device = options.devices().isEmpty() ? 0 : options.devices().get(0);
    CudaSettings settings = CudaSettings.from(options.properties()); // every property checked before the device
    this.ncclPath = settings.ncclPath();
    this.graphsEnabled = settings.graphs();
    this.gemvEnabled = settings.gemv();
    this.moeGroupedMaxRows = settings.moeGroupedMaxRows();
    this.maxGraphs = settings.maxGraphs();
    this.ctx = CudaNative.create(device, settings.cublasPath().orElse(null), STAGING_BYTES);
    StepMemory stepMemory = null;
    try {
      long free = CudaNative.memInfo(ctx)[0];
      this.reservedBytes = (long) (free * (1 - options.memoryFraction()));
      setGemvVariantFlag(settings.gemvVariant());
      CudaNative.setAttentionVariant(settings.attnVariant());
      setPdlFlag(settings.pdl());
      setFuse(settings.fuse());
      CudaNative.setAttentionSplitHeads(settings.attnSplitHeads());
      long arena = settings.arenaBytes().orElse(Math.min(8L << 30, (long) (free * 0.15)));
      stepMemory = new StepMemory(ctx, arena, settings.inputArenaBytes(), settings.tableBytes());
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

  @Override
  public String name() {
    return "cuda";
  }

  /** The device's name, compute capability, SM count and memory. */
  public String deviceDescription() {
    return CudaNative.deviceName(device);
  }

  @Override
  public int weightBytesPerElement() {
    return 2;
  }

  @Override
  public Tensor weight(TensorSlice slice) {
    int dtype = dtype(slice);
    long n = slice.elementCount();
    long ptr = CudaNative.malloc(ctx, Math.max(2 * n, 256));
    allocations.add(ptr);
    CudaNative.upload(ctx, ptr, slice.data(), dtype, n);
    return new CudaWeight(ptr, slice.shape().clone(), isLogitsHead(slice.name()));
  }

  @Override
  public Tensor fusedWeight(List<TensorSlice> rowBlocks) {
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
    long ptr = CudaNative.malloc(ctx, Math.max(2 * rows * cols, 256));
    allocations.add(ptr);
    long at = ptr;
    for (TensorSlice b : rowBlocks) {
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
   * Stacks a MoE layer's experts for grouped GEMMs ((E, 2I, hidden) [gate | up] and (E, hidden, I), bf16) and keeps
   * the router in fp32 on the device and its correction bias on the host. Steps of a MoE model route on the host,
   * so from here on decode steps are not captured as CUDA graphs.
   */
  @Override
  public MoeWeights moeWeights(MoeSlices slices) {
    int e = slices.experts().size();
    int hidden = Math.toIntExact(slices.router().shape()[1]);
    int inter = Math.toIntExact(slices.experts().get(0).gate().shape()[0]);
    long expertElems = (long) inter * hidden;
    long gateUp = CudaNative.malloc(ctx, 2 * 2 * expertElems * e);
    allocations.add(gateUp);
    long down = CudaNative.malloc(ctx, 2 * expertElems * e);
    allocations.add(down);
    for (int x = 0; x < e; x++) {
      ExpertSlices ex = slices.experts().get(x);
      long base = gateUp + 2 * 2 * expertElems * x;
      uploadExact(base, ex.gate(), expertElems);
      uploadExact(base + 2 * expertElems, ex.up(), expertElems);
      uploadExact(down + 2 * expertElems * x, ex.down(), expertElems);
    }
    float[] router = floats(slices.router());
    long routerPtr = CudaNative.malloc(ctx, 4L * router.length);
    allocations.add(routerPtr);
    CudaNative.uploadFloats(ctx, routerPtr, router);
    hostRouting = true;
    return new CudaMoe.Weights(routerPtr, floats(slices.correctionBias()), gateUp, down, e, inter, hidden);
  }

  private void uploadExact(long dst, TensorSlice slice, long elements) {
    if (slice.elementCount() != elements) {
      throw new IllegalArgumentException(String.format("expert tensor %s has %d elements, expected %d",
          slice.name(), slice.elementCount(), elements));
    }
    CudaNative.upload(ctx, dst, slice.data(), dtype(slice), elements);
  }

  private static float[] floats(TensorSlice slice) {
    float[] out = new float[Math.toIntExact(slice.elementCount())];
    Widening.toFloat32(slice, 0, out.length, FloatBuffer.wrap(out));
    return out;
  }

  private static int dtype(TensorSlice slice) {
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
    return new CudaKvCache(this, layout);
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

  /** Device bytes in use by every process on this device (total − free). */
  public long deviceBytesInUse() {
    long[] m = CudaNative.memInfo(ctx);
    return m[1] - m[0];
  }

  /** Total memory of {@code device} in bytes. */
  public static long deviceMemoryTotal(int device) {
    return CudaNative.deviceMemInfo(device)[1];
  }

  /**
   * Loads NCCL as tensor parallelism does (libnccl.so.2 from the library path, or the system property
   * {@code cuda.ncclPath}) and returns its version, e.g. "2.27.3"; fails with a sentence naming what was tried.
   */
  public static String ncclVersion() {
    return NcclCommunicator.version(System.getProperty("cuda.ncclPath"));
  }

  /** Device bytes in use on {@code device} by every process (total − free), without a backend. */
  public static long deviceMemoryInUse(int device) {
    long[] m = CudaNative.deviceMemInfo(device);
    return m[1] - m[0];
  }

  /** Measures device-to-device copy bandwidth in bytes/s (bytes read + bytes written), over {@code reps} copies. */
  public double copyBandwidthBytesPerSecond(long bytes, int reps) {
    return CudaNative.copyBandwidth(ctx, bytes, reps);
  }

  /**
   * Turns CUDA graphs and the small-batch GEMV kernel on or off for later steps (the properties
   * {@code cuda.graphs} and {@code cuda.gemv} set them at creation); for benchmarks that compare the paths.
   */
  public void setFastPaths(boolean graphs, boolean gemv) {
    if (gemv != this.gemvEnabled) {
      dropGraphs(); // a captured graph bakes in the GEMV-or-cuBLAS choice (its fingerprint does not see it)
    }
    this.graphsEnabled = graphs;
    this.gemvEnabled = gemv;
  }

  private void dropGraphs() {
    CudaNative.synchronize(ctx);
    graphs.values().forEach(g -> CudaNative.destroyGraph(g.exec()));
    graphs.clear();
    warmedUp.clear();
  }

  /**
   * Selects the small-batch GEMV kernel (property {@code cuda.gemvVariant}: 0 = one warp per output feature, v >= 1
   * = the in-split kernel aiming at 1024·v blocks) and drops the captured decode graphs, which baked the old one in.
   * Process-wide; for benchmarks that compare kernels.
   */
  public void setGemvVariant(int variant) {
    dropGraphs();
    setGemvVariantFlag(variant);
  }

  private int gemvVariant;

  private void setGemvVariantFlag(int variant) {
    if (variant < 0) {
      throw new IllegalArgumentException("cuda.gemvVariant must be >= 0, got " + variant);
    }
    this.gemvVariant = variant;
    CudaNative.setGemvVariant(variant);
  }

  /**
   * Programmatic dependent launch (property {@code cuda.pdl}, default on; used on sm_90 and later only): a layer's
   * kernels may start while the kernel before them finishes, so GEMVs stream their first weights during the
   * previous kernel's tail. Process-wide; drops the captured decode graphs. For benchmarks that compare it.
   */
  public void setPdl(boolean on) {
    dropGraphs();
    setPdlFlag(on);
  }

  private boolean pdl;

  /**
   * Selects the attention kernel (property {@code cuda.attnVariant}: 1 = one warp reduction per position and head,
   * 2 = 32-position chunks with lanes over positions for the scores, the default) and drops the captured graphs.
   * Process-wide; for benchmarks that compare kernels.
   */
  public void setAttentionVariant(int variant) {
    dropGraphs();
    CudaNative.setAttentionVariant(variant);
  }

  /**
   * One block of the chunked attention kernel per query head instead of per KV head for steps with fewer than 32
   * (token, KV head) pairs, i.e. small-batch decode (property {@code cuda.attnSplitHeads}, default true): more,
   * shorter blocks share the latency-bound work; results are the same bit for bit. Drops the captured graphs.
   */
  public void setAttentionSplitHeads(boolean on) {
    dropGraphs();
    CudaNative.setAttentionSplitHeads(on);
  }

  private void setPdlFlag(boolean on) {
    this.pdl = on && CudaNative.supportsPdl(device);
    CudaNative.setPdl(pdl);
  }

  /** Whether programmatic dependent launch is in use. */
  public boolean pdl() {
    return pdl;
  }

  /**
   * Checks the fused gate_up GEMV + SiLU·mul kernel against the GEMV followed by siluMul on random data: the number
   * of output elements that differ bit for bit (0 expected), or -1 when the fused kernel declines the shapes.
   */
  public long selfTestGemvSilu(int rows, int in, int inter) {
    return CudaNative.selfTestGemvSilu(ctx, rows, in, inter, 42);
  }

  /**
   * Checks a fused residual add + RMSNorm GEMV against the unfused kernels on random data (kind 0: gate_up with
   * SiLU·mul, {@code out} = intermediate size; kind 1: QKV with bias, RoPE and the KV write, {@code out} = query heads
   * of 128 over 2 KV heads): the number of outputs that differ bit for bit (0 expected), -1 when the fused kernel
   * declines the shapes.
   */
  public long selfTestNormFused(int kind, int rows, int in, int out) {
    return CudaNative.selfTestNormFused(ctx, kind, rows, in, out, 42);
  }

  /**
   * Checks the attention kernel chosen for {@code heads} query heads over {@code kvHeads} KV heads of {@code headDim}
   * against a double-precision CPU reference on random data, in step shape {@code mode}: 0 small-batch decode, 1
   * batched decode with graph-style dynamic splits, 2 chunked prefill, 3 one split, 4 more splits than the kernel
   * merges. Returns {elements outside 2^-8·|ref| + 2e-5 (plus split counters not left 0), max |Δ|, max |Δ| / that
   * bound, rows of the step}.
   */
  public double[] selfTestAttention(int heads, int kvHeads, int headDim, int mode) {
    return CudaNative.selfTestAttention(ctx, heads, kvHeads, headDim, mode, 42);
  }

  /** The attention kernel a step of {@code rows} tokens runs for these heads under the current settings, in words. */
  public String attentionKernel(int rows, int heads, int kvHeads, int headDim) {
    return CudaNative.attentionKernel(rows, heads, kvHeads, headDim);
  }

  /** {@code cuda.fuse} bit: RoPE of q and k and the KV write in the QKV GEMV's epilogue (steps of up to 8 rows). */
  public static final int FUSE_QKV_ROPE = 1;
  /** {@code cuda.fuse} bit: residual add + RMSNorm in the QKV GEMV's prologue (with FUSE_QKV_ROPE; up to 4 rows). */
  public static final int FUSE_QKV_NORM = 2;
  /** {@code cuda.fuse} bit: residual add + RMSNorm in the gate_up GEMV's prologue (up to 4 rows). */
  public static final int FUSE_MLP_NORM = 4;

  private int fuse;

  /**
   * Which ops the small-batch GEMVs absorb (property {@code cuda.fuse}, a mask of {@link #FUSE_QKV_ROPE},
   * {@link #FUSE_QKV_NORM}, {@link #FUSE_MLP_NORM}). Drops the captured decode graphs. For benchmarks that compare
   * them.
   */
  public void setFuse(int mask) {
    if (mask < 0 || mask > 7) {
      throw new IllegalArgumentException("cuda.fuse must be a mask in [0, 7], got " + mask);
    }
    dropGraphs();
    this.fuse = mask;
  }

  /** Whether steps fuse {@code bit} (it needs the in-split GEMV kernels). */
  boolean fuses(int bit) {
    return (fuse & bit) != 0 && gemvEnabled && gemvVariant != 0;
  }

  private long skipOps;

  /**
   * Timing diagnostic for benchmarks, which makes results wrong: steps launch no kernel for the op kinds in
   * {@code mask} (bit i = op i of the step's profile names), so that a benchmark measures what each op costs inside a
   * captured, PDL-chained decode step. 0 (the default) launches everything. Drops the captured graphs.
   */
  public void skipOpsForTiming(long mask) {
    dropGraphs();
    this.skipOps = mask;
  }

  long skipOps() {
    return skipOps;
  }

  private Profile profile; // per-op GPU times of eager steps, when profiling

  /**
   * Starts (or with null stops) a per-op profile: while it is set, steps run eagerly (no graphs) and each op gets
   * GPU-timed between two events, with a spin kernel ahead of it so the host's launch time is not counted.
   */
  public void profile(Profile p) {
    this.profile = p;
  }

  Profile profile() {
    return profile;
  }

  /** Accumulated per-op GPU milliseconds of profiled steps, by op label. */
  public static final class Profile {
    private final Map<String, double[]> ops = new java.util.LinkedHashMap<>(); // label -> {count, ms}
    private int steps;

    void add(String label, double ms) {
      double[] a = ops.computeIfAbsent(label, k -> new double[2]);
      a[0]++;
      a[1] += ms;
    }

    void stepDone() {
      steps++;
    }

    /** A table of ops by GPU time per step, largest first. */
    public String table() {
      StringBuilder b = new StringBuilder();
      double total = ops.values().stream().mapToDouble(a -> a[1]).sum() / Math.max(steps, 1);
      b.append(String.format("%-44s %8s %10s %10s %6s%n", "op", "per step", "ms/step", "us/op", "share"));
      ops.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[1], x.getValue()[1])).forEach(e -> {
        double per = e.getValue()[1] / Math.max(steps, 1);
        b.append(String.format("%-44s %8.0f %10.3f %10.2f %5.1f%%%n", e.getKey(), e.getValue()[0] / Math.max(steps, 1),
            per, e.getValue()[1] / e.getValue()[0] * 1e3, per / total * 100));
      });
      b.append(String.format("%-44s %8s %10.3f%n", "sum of ops (GPU time, no launch gaps)", "", total));
      return b.toString();
    }
  }

  /** Largest activation arena use of any step so far, in bytes. */
  public long peakActivationBytes() {
    return memory.peakActivationBytes();
  }

  /** Number of captured decode graphs. */
  public int capturedGraphs() {
    return graphs.size();
  }

  /** CUDA graphs captured by every CUDA backend of this JVM so far. */
  public static int graphsCapturedTotal() {
    return GRAPHS_CAPTURED.get();
  }

  /** Largest run of rows of one expert that the grouped GEMV kernel takes; larger runs go to cuBLAS per expert. */
  int moeGroupedMaxRows() {
    return moeGroupedMaxRows;
  }

  /** The CUDA device ordinal this backend runs on. */
  public int device() {
    return device;
  }

  /** The property cuda.ncclPath, if set. */
  java.util.Optional<String> ncclPath() {
    return ncclPath;
  }

  long ctx() {
    return ctx;
  }

  long splitCounters() {
    return splitCounters;
  }

  StepMemory memory() {
    return memory;
  }

  boolean graphsEnabled() {
    return graphsEnabled && !hostRouting && profile == null;
  }

  boolean gemvEnabled() {
    return gemvEnabled;
  }

  DecodeGraph graph(DecodeGraphKey key) {
    return graphs.get(key);
  }

  /** True the first time a key is seen: that step runs eagerly, as the warm-up before a capture. */
  boolean firstSight(DecodeGraphKey key) {
    return warmedUp.add(key);
  }

  void putGraph(DecodeGraphKey key, DecodeGraph graph) {
    GRAPHS_CAPTURED.incrementAndGet();
    graphs.put(key, graph);
    var it = graphs.entrySet().iterator();
    while (graphs.size() > maxGraphs) { // least recently used first; only with more buckets than cuda.maxGraphs
      var e = it.next();
      CudaNative.destroyGraph(e.getValue().exec());
      warmedUp.remove(e.getKey());
      it.remove();
    }
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
  }

  void kvClosed(CudaKvCache kv) {
    graphs.entrySet().removeIf(e -> {
      if (e.getKey().kvId() == kv.id()) {
        CudaNative.destroyGraph(e.getValue().exec());
        return true;
      }
      return false;
    });
    warmedUp.removeIf(k -> k.kvId() == kv.id());
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    CudaNative.synchronize(ctx);
    graphs.values().forEach(g -> CudaNative.destroyGraph(g.exec()));
    graphs.clear();
    allocations.forEach(ptr -> CudaNative.free(ctx, ptr));
    allocations.clear();
    memory.close();
    CudaNative.hostFree(readback);
    CudaNative.destroy(ctx);
  }
}

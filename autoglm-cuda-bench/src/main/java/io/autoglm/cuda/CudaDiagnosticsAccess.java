package io.autoglm.cuda;

/**
 * The bench tools' door to the CUDA backend's package-private diagnostics ({@link CudaDiagnostics}). This class
 * lives in the autoglm-cuda-bench jar under the backend's package name: a split package, which works on the class
 * path (how the tools run: {@code java -cp 'lib/*' io.autoglm.cuda.tools.CudaBench …}) and keeps every diagnostic off
 * the library jar's public surface. The setters replace the backend's settings record and drop its captured graphs.
 */
public final class CudaDiagnosticsAccess {
  private CudaDiagnosticsAccess() {}

  /**
   * Whether the backend's quantization at load ({@code autoglm.quantization=fp8}) takes a linear weight of this shape
   * and dtype (the backend quantizes what it receives as linear weights: {@code CheckpointLayout.linearWeights}).
   */
  public static boolean fp8Quantizable(long[] shape, io.autoglm.safetensors.DType dtype) {
    return Fp8Loader.quantizable(shape, dtype);
  }

  /** A per-op GPU profile being accumulated ({@link #profile}). */
  public static final class Profile {
    private final CudaProfile profile = new CudaProfile();

    /** A table of ops by GPU time per step, largest first. */
    public String table() {
      return profile.table();
    }

    /** GPU milliseconds per step of each op label. */
    public java.util.Map<String, Double> msPerStep() {
      return profile.msPerStep();
    }
  }

  /** Programmatic dependent launch on or off ({@code cuda.pdl}; used on sm_90 and later only). */
  public static void setPdl(CudaBackend backend, boolean on) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.pdl", on));
  }

  /** What the small-batch GEMVs absorb ({@code cuda.fuse}, a mask in [0, 7]). */
  public static void setFuse(CudaBackend backend, int mask) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.fuse", mask));
  }

  /** The small-batch GEMV kernel ({@code cuda.gemvVariant}: 0 = one warp per feature, v >= 1 = in-split). */
  public static void setGemvVariant(CudaBackend backend, int variant) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.gemvVariant", variant));
  }

  /** The attention kernel ({@code cuda.attnVariant}: 1 = the first one, 2 = chunked). */
  public static void setAttentionVariant(CudaBackend backend, int variant) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.attnVariant", variant));
  }

  /**
   * What runs the bf16 GEMMs ({@code cuda.gemm}: cublas, lt, lt-tuned); drops the captured graphs, which baked the old
   * choice in. The per-shape cuBLASLt cache (and each shape's tuned choice) stays with the context.
   */
  public static void setGemm(CudaBackend backend, String value) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.gemm", value));
  }

  /**
   * The fewest rows of an FP8 linear beyond the GEMVs that take the FP8 × FP8 cuBLASLt GEMM ({@code
   * cuda.fp8ActMinRows}; 0: none, bf16 activations throughout); drops the captured graphs.
   */
  public static void setFp8ActMinRows(CudaBackend backend, int minRows) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.fp8ActMinRows", minRows));
  }

  /**
   * The fewest rows of an FP8 linear on the tensor-core FP8 GEMVs ({@code cuda.fp8GemvTc}; 0: the scalar ones, up to
   * {@code cuda.gemvMaxRows}); drops the captured graphs.
   */
  public static void setFp8GemvTc(CudaBackend backend, int minRows) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.fp8GemvTc", minRows));
  }

  /** The most rows of an FP8 linear on the tensor-core FP8 GEMM ({@code cuda.fp8MmaMaxRows}); drops the graphs. */
  public static void setFp8MmaMaxRows(CudaBackend backend, int maxRows) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.fp8MmaMaxRows", maxRows));
  }

  /** The fewest rows of an FP8 linear on the tensor-core FP8 GEMVs ({@code cuda.fp8GemvTc}) in use. */
  public static int fp8GemvTc(CudaBackend backend) {
    return backend.diagnostics().settings().fp8GemvTc();
  }

  /** The attention kernel in use ({@code cuda.attnVariant}). */
  public static int attentionVariant(CudaBackend backend) {
    return backend.diagnostics().settings().attnVariant();
  }

  /** One chunked-attention block per query head for small-batch decode ({@code cuda.attnSplitHeads}). */
  public static void setAttentionSplitHeads(CudaBackend backend, boolean on) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.attnSplitHeads", on));
  }

  /**
   * The fewest query tokens of a sequence that take the tensor-core prefill attention ({@code cuda.prefillAttn}; 0:
   * none, every row runs the decode kernels).
   */
  public static void setPrefillAttn(CudaBackend backend, int minRows) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.prefillAttn", minRows));
  }

  /**
   * The fewest rows × KV heads of a step that take the tensor-core decode attention ({@code cuda.decodeAttnTc}; 0:
   * off). Drops the captured graphs, which baked the old choice in.
   */
  public static void setDecodeAttnTc(CudaBackend backend, int minRowsTimesKvHeads) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.decodeAttnTc", minRowsTimesKvHeads));
  }

  /**
   * The tensor-core decode attention's variant (benchmark switch, {@link CudaSelfTests#setDecodeTcVariant}); drops the
   * captured graphs, which baked the old variant in.
   */
  public static void setDecodeAttnTcVariant(CudaBackend backend, int variant) {
    CudaSelfTests.setDecodeTcVariant(backend, variant);
    backend.diagnostics().reconfigure(s -> s);
  }

  /**
   * The blocks a graph step that takes the tensor-core decode attention aims its split count at (benchmark switch;
   * 0: the decode kernels' target); drops the captured graphs, which baked the split count in.
   */
  public static void setDecodeAttnTcBlocks(CudaBackend backend, int blocks) {
    if (blocks < 0) {
      throw new IllegalArgumentException("decode tensor-core graph blocks " + blocks + "; expected 0 or more");
    }
    DecodeAttention.tcGraphBlocks = blocks;
    backend.diagnostics().reconfigure(s -> s);
  }

  /** The graph splits per (token, KV head) a decode step of {@code phys} rows takes under the current settings. */
  public static int graphSplits(CudaBackend backend, int phys, int kvHeads) {
    return DecodeAttention.graphSplits(backend.diagnostics().settings().decodeAttnTc(), phys, kvHeads);
  }

  /** The {@code cuda.prefillAttn} in use. */
  public static int prefillAttn(CudaBackend backend) {
    return backend.diagnostics().settings().prefillAttn();
  }

  /**
   * The most rows of a bf16 GEMV step ({@code cuda.gemvMaxRows}, 1..8; more take cuBLAS) and the fewest that take the
   * tensor-core GEMV ({@code cuda.gemvTc}, 0..8; 0: off). Drops the captured graphs, which baked the old choice in.
   */
  public static void setGemvRows(CudaBackend backend, int maxRows, int tcMinRows) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.gemvMaxRows", maxRows).with("cuda.gemvTc", tcMinRows));
  }

  /** {@link #setGemvRows} with the defaults; returns them in words. */
  public static String setGemvRowsDefault(CudaBackend backend) {
    setGemvRows(backend, CudaSettings.DEFAULT_GEMV_MAX_ROWS, CudaSettings.DEFAULT_GEMV_TC);
    return "cuda.gemvMaxRows " + CudaSettings.DEFAULT_GEMV_MAX_ROWS + ", cuda.gemvTc " + CudaSettings.DEFAULT_GEMV_TC;
  }

  /** CUDA graphs and the small-batch GEMV on or off ({@code cuda.graphs}, {@code cuda.gemv}). */
  public static void setFastPaths(CudaBackend backend, boolean graphs, boolean gemv) {
    backend.diagnostics().setFastPaths(graphs, gemv);
  }

  /** MoE routing on the device ({@code cuda.moeDeviceRouting}); false routes on the host, and MoE steps are eager. */
  public static void setMoeDeviceRouting(CudaBackend backend, boolean on) {
    backend.diagnostics().reconfigure(s -> s.with("cuda.moeDeviceRouting", on));
  }

  /**
   * Shows {@code o} (null: none) every token any CUDA backend of this JVM routes on the device, as
   * {@link io.autoglm.backend.MoeRouter#observe} shows the host's: each MoE layer then waits for the host, and decode
   * steps run eagerly while it is installed.
   */
  public static void observeDeviceRouting(io.autoglm.backend.MoeRouter.Observer o) {
    MoeDeviceRouting.observe(o);
  }

  /** Whether programmatic dependent launch is in use. */
  public static boolean pdl(CudaBackend backend) {
    return backend.diagnostics().pdl();
  }

  /** Timing only, results wrong: steps launch nothing for the op codes in {@code mask} (0: everything). */
  public static void skipOpsForTiming(CudaBackend backend, long mask) {
    backend.diagnostics().skipOpsForTiming(mask);
  }

  /** Starts accumulating into {@code p} (null stops): steps run eagerly, each op GPU-timed. */
  public static void profile(CudaBackend backend, Profile p) {
    backend.diagnostics().profile(p == null ? null : p.profile);
  }

  public static long peakActivationBytes(CudaBackend backend) {
    return backend.diagnostics().peakActivationBytes();
  }

  public static int capturedGraphs(CudaBackend backend) {
    return backend.diagnostics().capturedGraphs();
  }

  public static long deviceBytesInUse(CudaBackend backend) {
    return backend.diagnostics().deviceBytesInUse();
  }

  public static double copyBandwidthBytesPerSecond(CudaBackend backend, long bytes, int reps) {
    return backend.diagnostics().copyBandwidthBytesPerSecond(bytes, reps);
  }

  public static int graphsCapturedTotal() {
    return CudaDiagnostics.graphsCapturedTotal();
  }

  public static long deviceMemoryInUse(int device) {
    return CudaDiagnostics.deviceMemoryInUse(device);
  }

  public static long deviceMemoryTotal(int device) {
    return CudaDiagnostics.deviceMemoryTotal(device);
  }

  /** The NCCL version tensor parallelism would load ({@code cuda.ncclPath} or libnccl.so.2), e.g. "2.27.3". */
  public static String ncclVersion() {
    return CudaBackend.ncclVersion();
  }
}

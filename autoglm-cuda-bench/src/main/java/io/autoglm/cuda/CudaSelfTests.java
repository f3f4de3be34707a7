package io.autoglm.cuda;

/**
 * The kernel self-tests on random data: the fused GEMVs against the unfused kernels (bit for bit), the attention
 * kernels against a double-precision CPU reference. Their native code (selftest.cu) is compiled into the backend's
 * own library, so that it runs the very kernel binaries and process-wide settings the backend runs; this class, in
 * the autoglm-cuda-bench jar under the backend's package name, declares its JNI entry points, so the library jar
 * holds no self-test class. JNI binds them in the library that {@code CudaNative} loaded (same class loader), which
 * a live {@link CudaBackend} guarantees.
 */
public final class CudaSelfTests {
  private static final long SEED = 42;

  private CudaSelfTests() {}

  /**
   * The fused gate_up GEMV + SiLU·mul against the GEMV followed by siluMul: the number of output elements that differ
   * bit for bit (0 expected), or -1 when the fused kernel declines the shapes.
   */
  public static long gemvSilu(CudaBackend backend, int rows, int in, int inter) {
    return selfTestGemvSilu(backend.diagnostics().ctx(), rows, in, inter, SEED);
  }

  /**
   * A fused residual add + RMSNorm GEMV against the unfused kernels (kind 0: gate_up with SiLU·mul, {@code out} =
   * intermediate size; kind 1: QKV with bias, RoPE and the KV write, {@code out} = query heads of 128 over 2 KV heads;
   * kind 2: QKV + RoPE without the norm): outputs that differ bit for bit (0 expected), -1 when the fused kernel
   * declines the shapes, -2 out of memory.
   */
  public static long normFused(CudaBackend backend, int kind, int rows, int in, int out) {
    return selfTestNormFused(backend.diagnostics().ctx(), kind, rows, in, out, SEED);
  }

  /**
   * The row kernels of prefill-sized steps (addRmsNorm of width {@code n}, siluMul of {@code inter}, ropeQkv of
   * {@code heads} over {@code kvHeads} of 128) over {@code rows} rows, with their 16-byte variants on and off:
   * outputs that differ bit for bit (0 expected), -2 out of memory.
   */
  public static long rowKernels(CudaBackend backend, int rows, int n, int inter, int heads, int kvHeads) {
    return selfTestRowKernels(backend.diagnostics().ctx(), rows, n, inter, heads, kvHeads, SEED);
  }

  /**
   * The attention kernel chosen for {@code heads} query heads over {@code kvHeads} KV heads of {@code headDim}
   * against a double-precision CPU reference, in step shape {@code mode}: 0 small-batch decode, 1 batched decode with
   * graph-style dynamic splits, 2 chunked prefill, 3 one split, 4 more splits than the kernel merges. Returns
   * {elements outside 2^-8·|ref| + 2e-5 (plus split counters not left 0), max |Δ|, max |Δ| / that bound, rows}.
   */
  public static double[] attention(CudaBackend backend, int heads, int kvHeads, int headDim, int mode) {
    return selfTestAttention(backend.diagnostics().ctx(), heads, kvHeads, headDim, mode, SEED);
  }

  /** The attention kernel a step of {@code rows} tokens runs for these heads under the current settings, in words. */
  public static String attentionKernel(CudaBackend backend, int rows, int heads, int kvHeads, int headDim) {
    backend.diagnostics(); // a live backend: the native library is loaded
    return attentionKernelName(rows, heads, kvHeads, headDim);
  }

  /**
   * The tensor-core prefill attention against the decode kernels on every row (and the double-precision CPU
   * reference where affordable) in prefill step {@code which} (0..{@link #prefillCases} - 1: fresh prompts of 1 to
   * 2,048 tokens, a chunk after a cached prefix, several sequences, prefill mixed with decode rows, blocks of 1 token).
   * Returns {elements outside 2^-9·max|v| + 2^-8·|other| + 2e-5 plus decode-row elements not bit-equal, max |new −
   * old|, max |new − old| / bound, rows, max |new − ref| (-1: no reference), rows on the prefill kernel}.
   */
  public static double[] prefillAttention(CudaBackend backend, int heads, int kvHeads, int headDim, int which) {
    return selfTestPrefillAttention(backend.diagnostics().ctx(), heads, kvHeads, headDim, which, SEED);
  }

  /** The number of prefill self-check steps. */
  public static int prefillCases(CudaBackend backend) {
    backend.diagnostics();
    return prefillCases();
  }

  /** The prefill kernel's shape for these heads, in words ("none": it does not serve them). */
  public static String prefillKernel(CudaBackend backend, int heads, int kvHeads, int headDim) {
    backend.diagnostics();
    return prefillKernelName(heads, kvHeads, headDim);
  }

  /**
   * The tensor-core decode attention (cuda.decodeAttnTc) against the decode kernels and, where affordable, the
   * double-precision CPU reference, in decode step {@code which} (0..{@link #decodeTcCases} - 1: batches 1 to 256,
   * contexts 1 to 4,096, static and graph-style splits, merged by the kernel or by its combine kernel). Returns
   * {elements outside 2^-9·max|v| + 2^-8·|other| + 2e-5 plus split counters not left 0, max |new − old|, max |new −
   * old| / bound, rows, max |new − ref| (-1: no reference)}, or {-1} when the kernel refuses the shape (the decode
   * kernels then serve it).
   */
  public static double[] decodeAttentionTc(CudaBackend backend, int heads, int kvHeads, int headDim, int which) {
    return selfTestDecodeAttentionTc(backend.diagnostics().ctx(), heads, kvHeads, headDim, which, SEED);
  }

  /** The number of tensor-core decode attention self-check steps. */
  public static int decodeTcCases(CudaBackend backend) {
    backend.diagnostics();
    return decodeTcCases();
  }

  /** The tensor-core decode attention's variants ({@link #setDecodeTcVariant} takes 0 .. this − 1). */
  public static int decodeTcVariants(CudaBackend backend) {
    backend.diagnostics();
    return decodeTcVariants();
  }

  /** Warps per block of a tensor-core decode attention variant (a K/V tile is 16 keys per warp). */
  public static int decodeTcVariantWarps(CudaBackend backend, int variant) {
    backend.diagnostics();
    int w = decodeTcVariantWarps(variant);
    if (w == 0) {
      throw new IllegalArgumentException("decode tensor-core variant " + variant + "; expected 0 to "
          + (decodeTcVariants() - 1));
    }
    return w;
  }

  /**
   * The variant every later tensor-core decode attention launch of this process takes (a benchmark switch; graphs
   * captured before keep theirs: {@link CudaDiagnosticsAccess#setDecodeAttnTcVariant} also drops them).
   */
  public static void setDecodeTcVariant(CudaBackend backend, int variant) {
    decodeTcVariantWarps(backend, variant);
    setDecodeTcVariant(variant);
  }

  /**
   * GPU µs per launch of one layer's decode attention: {@code rows} decode rows of context {@code context}, graph-style
   * dynamic splits ({@code splits} of them, with counters), {@code layers} K/V caches cycled so that the cache is not
   * in L2; {@code variant} the tensor-core kernel's variant, or -1 the decode kernels. -1 when the tensor-core kernel
   * refuses the shape.
   */
  public static double decodeAttnMicros(CudaBackend backend, int variant, int heads, int kvHeads, int headDim,
      int rows, int context, int splits, int layers, int iters) {
    if (variant >= 0) {
      decodeTcVariantWarps(backend, variant);
    }
    return timeDecodeAttention(backend.diagnostics().ctx(), variant, heads, kvHeads, headDim, rows, context, splits,
        layers, iters);
  }

  private static native int decodeTcVariants();

  private static native int decodeTcVariantWarps(int variant);

  private static native void setDecodeTcVariant(int variant);

  private static native double timeDecodeAttention(long ctx, int variant, int heads, int kvHeads, int headDim,
      int rows, int context, int splits, int layers, int iters);

  private static native double[] selfTestDecodeAttentionTc(long ctx, int heads, int kvHeads, int headDim, int which,
      long seed);

  private static native int decodeTcCases();

  /**
   * cuBLAS bf16 GEMM rate (fp32 accumulate, bf16 out, the backend's own call) for y (rows, out) = x (rows, in) · Wᵀ:
   * TFLOP/s over {@code reps} GEMMs after a warm-up, on random data.
   */
  public static double gemmTflops(CudaBackend backend, int rows, int in, int out, int reps) {
    return gemmRate(backend.diagnostics().ctx(), rows, in, out, reps);
  }

  private static native double[] selfTestPrefillAttention(long ctx, int heads, int kvHeads, int headDim, int which,
      long seed);

  private static native int prefillCases();

  private static native String prefillKernelName(int heads, int kvHeads, int headDim);

  private static native double gemmRate(long ctx, int rows, int in, int out, int reps);

  private static native long selfTestRowKernels(long ctx, int rows, int n, int inter, int heads, int kvHeads,
      long seed);

  private static native int rowKernelsVectorized(int rows, int n, int inter, int heads, int kvHeads, int headDim,
      int rot, boolean interleaved);

  /**
   * The device routing's exact-tie path (moe_route.cu's routeSerial and routeWeights: the TorchTopK port, group
   * masking and the weights), compiled for the host from the same source, on one token's {@code logits} (E) and
   * {@code bias} (E): the chosen experts in torch's order and their weights into the two arrays (k each). Needs no
   * device, only the loaded library. False when the router is outside the device routing's limits.
   */
  static boolean routeSerialHost(float[] logits, float[] bias, int k, int groups, int topkGroups, boolean norm,
      float scale, int[] experts, float[] weights) {
    if (CudaNative.loadError().isPresent()) {
      throw new IllegalStateException("the native library did not load: " + CudaNative.loadError().get());
    }
    return routeSerialHost0(logits, bias, k, groups, topkGroups, norm, scale, experts, weights);
  }

  private static native boolean routeSerialHost0(float[] logits, float[] bias, int k, int groups, int topkGroups,
      boolean norm, float scale, int[] experts, float[] weights);

  /**
   * The FP8 kernels on random data (128×128 block scales; selftest_fp8.cu): kind 0 quantization of an (out, in)
   * weight against the host's rule {differing bytes, differing scales, blocks}; 1 the FP8 GEMV + bias of {@code rows}
   * <= 8 against a double reference on the dequantized weights {outside 2^-8·|ref| + 1e-5·Σ|w·x|, max |Δ|/bound, the
   * same two for the bf16 GEMV on bf16-dequantized weights, outputs differing between block and per-row scales,
   * outputs differing between two runs with block scales};
   * 2 the cuBLAS path (dequantize + GEMM) {outside 2^-8·|ref| + 2^-8·Σ|w·x|, max |Δ|/bound}; 3 gate_up + SiLU·mul
   * ({@code out} = inter) against the FP8 GEMV + siluMul {differing}; 4 QKV + RoPE + KV write ({@code out} = query
   * heads of 128 over 2 KV heads) against the FP8 GEMV + ropeQkv {differing}; 5 the grouped expert GEMV over 8
   * experts {outside, max |Δ|/bound}; 6 the tensor-core FP8 GEMM (any rows) + bias {outside kind 2's bound, max
   * |Δ|/bound}; 7 the GEMV's e4m3 decoding and column order on one-hot inputs over every code and column {outputs
   * differing from e4m3(q)·scale, outputs compared}. {-1}: the kernel declined; {-2}: out of memory.
   */
  public static double[] fp8(CudaBackend backend, int kind, int rows, int in, int out) {
    return selfTestFp8(backend.diagnostics().ctx(), kind, rows, in, out, SEED);
  }

  private static native double[] selfTestFp8(long ctx, int kind, int rows, int in, int out, long seed);

  /**
   * GPU µs per launch of the FP8 GEMV in use ({@code cuda.fp8GemvTc}) of a random (out, in) weight with 128×128
   * block scales on {@code rows} rows: mode 0 plain + bias, 1 gate_up + SiLU·mul (inter = out / 2), 2 fp32 out; over
   * {@code iters} launches cycling weight copies that do not fit L2. -1: declined; -2: out of memory.
   */
  public static double fp8GemvMicros(CudaBackend backend, int mode, int rows, int in, int out, int iters) {
    return timeGemvFp8(backend.diagnostics().ctx(), mode, rows, in, out, iters);
  }

  private static native double timeGemvFp8(long ctx, int mode, int rows, int in, int out, int iters);

  /**
   * The tensor-core GEMV (gemv_tc.cu) of a random weight (out, in) for rows 1..8: mode 0 bf16 out, 1 fp32 out, 2
   * gate_up with SiLU·mul ({@code out} = 2·inter). Per rows r (8 fields at 8·(r − 1)): {relative Frobenius error vs the
   * double-precision CPU reference (every feature up to 2,048, else about 2,048 sampled), max |Δ| vs it, max
   * |reference|, the same three vs the in-split GEMV (cuda.gemvTc off), bytes differing between two runs, mode 2:
   * outputs differing from the tensor-core GEMV of the 2·inter features followed by siluMul}. {-1}: declined; {-2}: out
   * of memory.
   */
  public static double[] gemvTc(CudaBackend backend, int in, int out, int mode, boolean bias) {
    return selfTestGemvTc(backend.diagnostics().ctx(), in, out, mode, bias, SEED);
  }

  /**
   * GPU µs per launch of a GEMV of weight (out, in) and {@code rows} rows in {@code mode} (as {@link #gemvTc}) with
   * kernel {@code kind}: 0 the in-split GEMV, 1 the tensor-core GEMV, 2 cuBLAS (+ siluMul in mode 2), over
   * {@code iters} launches cycling weight copies that do not fit L2. -1: declined; -2: out of memory.
   */
  public static double gemvMicros(CudaBackend backend, int kind, int mode, boolean bias, int rows, int in, int out,
      int iters) {
    return timeGemvTc(backend.diagnostics().ctx(), kind, mode, bias, rows, in, out, iters);
  }

  private static native double[] selfTestGemvTc(long ctx, int in, int out, int mode, boolean bias, long seed);

  private static native double timeGemvTc(long ctx, int kind, int mode, boolean bias, int rows, int in, int out,
      int iters);

  private static native long selfTestGemvSilu(long ctx, int rows, int in, int inter, long seed);

  private static native long selfTestNormFused(long ctx, int kind, int rows, int in, int out, long seed);

  private static native double[] selfTestAttention(long ctx, int heads, int kvHeads, int headDim, int mode, long seed);

  private static native String attentionKernelName(int rows, int heads, int kvHeads, int headDim);
}

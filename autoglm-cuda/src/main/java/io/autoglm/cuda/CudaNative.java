package io.autoglm.cuda;

import io.autoglm.internal.NativeLibrary;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * The JNI bridge to {@code libautoglm_cuda.so}, which the build packs into the jar under
 * {@code native/linux-x86_64/}. Pointers are device (or pinned host) addresses as longs; {@code ctx} is a native
 * per-device context (stream, cuBLAS handle, staging buffers). Every native failure throws
 * {@link IllegalStateException} with the CUDA error named.
 */
final class CudaNative {
  private static final String RESOURCE = "/native/linux-x86_64/libautoglm_cuda.so";
  private static final Optional<String> LOAD_ERROR = load();

  private CudaNative() {}

  /** Why the native library could not be loaded, if it could not. */
  static Optional<String> loadError() {
    return LOAD_ERROR;
  }

  private static Optional<String> load() {
    if (!NativeLibrary.isLinux() || !NativeLibrary.arch().equals("x86_64")) {
      return Optional.of("the CUDA backend is built for linux x86-64 only, this is "
          + System.getProperty("os.name", "") + "/" + System.getProperty("os.arch", ""));
    }
    return NativeLibrary.load(CudaNative.class, RESOURCE, path -> System.load(path),
        "autoglm-cuda was built without its native library", "nvcc was missing at build time");
  }

  static native int deviceCount();

  static native String deviceName(int device);

  static native long create(int device, String cublasPath, long stagingBytes);

  static native void destroy(long ctx);

  /** {free, total} device bytes. */
  static native long[] memInfo(long ctx);

  static native long malloc(long ctx, long bytes);

  static native void free(long ctx, long ptr);

  /** Pinned host memory as a direct buffer. */
  static native ByteBuffer hostAlloc(long bytes);

  static native void hostFree(ByteBuffer buffer);

  static native long address(ByteBuffer direct);

  /** Uploads elements of dtype (0 BF16, 1 F16, 2 F32) from a direct buffer, converted to bf16; synchronous. */
  static native void upload(long ctx, long dst, ByteBuffer src, int dtype, long elements);

  static native void uploadFloats(long ctx, long dst, float[] src);

  static native void copyAsync(long ctx, long dst, long src, long bytes);

  static native void memsetAsync(long ctx, long dst, int value, long bytes);

  static native void synchronize(long ctx);

  static native void beginCapture(long ctx);

  static native long endCapture(long ctx, boolean discard);

  static native void launchGraph(long ctx, long exec);

  static native void destroyGraph(long exec);

  static native double copyBandwidth(long ctx, long bytes, int reps);

  /** out[t] = table[ids[t] - firstRow], a zero row where that is outside [0, tableRows) (vocab-split tables). */
  static native void embedding(long ctx, long out, long table, long ids, int rows, int hidden, int firstRow,
      int tableRows);

  static native void rmsNorm(long ctx, long out, long x, int ldx, long w, int rows, int n, float eps);

  static native void addRmsNorm(long ctx, long sum, long out, long a, int lda, long b, int ldb, long w, int rows,
      int n, float eps);

  static native void add(long ctx, long out, long a, int lda, long b, int ldb, int rows, int n);

  static native void siluMul(long ctx, long out, long gateUp, int ld, int rows, int inter);

  static native void rope(long ctx, long out, long x, int ldx, long pos, long inv, int rows, int heads, int headDim,
      int rot, boolean interleaved);

  /** fp8Kv: the cache holds E4M3 codes (autoglm.kvCacheDtype=fp8), each value rounded from fp32. */
  static native void ropeWriteKv(long ctx, long k, int ldk, long v, int ldv, long kCache, long vCache, long slots,
      long pos, long inv, int rows, int kvHeads, int headDim, int rot, boolean interleaved, boolean rope,
      boolean fp8Kv);

  /**
   * partials: (rows, heads, splits, headDim + 2) fp32 when splits > 1; counters: 0 or (rows · heads) zeroed ints that
   * let the attention kernel merge its splits itself. Throws for a shape without a kernel (heads not a multiple of
   * kvHeads, headDim outside 1..256). prefillSegs (null: none) holds (first row, rows) pairs of the sequences whose
   * rows run the tensor-core prefill kernel, and prefillSegsDevice the same ints on the device; every other row runs
   * the decode kernels. fp8Kv: the cache holds E4M3 codes (the same kernels, decoding them as they load).
   */
  static native void attention(long ctx, long out, long partials, long counters, long q, int ldq, long kCache, long vCache,
      long tokenSeq, long pos, long tables, int stride, int blockSize, int rows, int heads, int kvHeads, int headDim,
      float scale, int partition, int splits, int[] prefillSegs, long prefillSegsDevice, boolean fp8Kv);

  /**
   * The tensor-core decode attention (attention_decode_tc.cu) with {@link #attention}'s arguments, every row a decode
   * row: false, launching nothing, for a shape it does not serve (headDim other than 64 or 128, more than
   * {@link DecodeAttention#MAX_TC_SPLITS} splits, q not 16-byte aligned); then {@link #attention} must run instead.
   */
  static native boolean attentionTc(long ctx, long out, long partials, long counters, long q, int ldq, long kCache,
      long vCache, long tokenSeq, long pos, long tables, int stride, int blockSize, int rows, int heads, int kvHeads,
      int headDim, float scale, int partition, int splits, boolean fp8Kv);

  /** Small-batch GEMV kernel, process-wide: 0 = one warp per feature, v >= 1 = in-split aiming at 1024·v blocks. */
  static native void setGemvVariant(int v);

  /** {@code cuda.gemm} of this context: the ordinal of {@link CudaSettings.Gemm} (gemm_lt.cu). */
  static native void setGemm(long ctx, int mode);

  /** The GEMM path's log lines since the last call (a cuBLASLt fallback, a missing library), or null. */
  static native String gemmNotes(long ctx);

  /**
   * The tensor-core GEMV, process-wide: GEMVs of at least {@code minRows} rows (up to 8) take it, 0 = never
   * ({@code cuda.gemvTc}); set before graphs are captured.
   */
  static native void setGemvTc(int minRows);

  /**
   * FP8 GEMVs of at least {@code minRows} rows (up to 8) on the tensor cores, 0 = never ({@code cuda.fp8GemvTc}),
   * process-wide; set before graphs are captured.
   */
  static native void setFp8GemvTc(int minRows);

  /** Programmatic dependent launch of the layer kernels, process-wide; set before graphs are captured. */
  static native void setPdl(boolean on);

  static native boolean supportsPdl(int device);

  /** Attention kernel, process-wide: 1 = a warp reduction per position and head, 2 = 32-position chunks. */
  static native void setAttentionVariant(int v);

  /** One chunked-attention block per query head (not per KV head) for steps with few (token, KV head) pairs. */
  static native void setAttentionSplitHeads(boolean on);

  /** out (rows, inter) = silu(x·gateᵀ)·(x·upᵀ) in one GEMV; false when the kernel does not apply. */
  static native boolean linearSiluMul(long ctx, long out, long x, int ldx, long w, int rows, int in, int inter);

  /**
   * rope(q) into qOut, rope(k) and v into the KV cache; with a QKV bias (0: none) q, k and v are first biased as
   * {@link #linear}'s separate bias add rounds them, bit for bit. fp8Kv: k and v go into an E4M3 cache, rounded from
   * fp32.
   */
  static native void ropeQkv(long ctx, long qOut, long q, int ldq, long k, int ldk, long v, int ldv, long kCache,
      long vCache, long slots, long pos, long inv, int rows, int heads, int kvHeads, int headDim, int rot,
      boolean interleaved, long bias, boolean fp8Kv);

  /**
   * sum = a + b; out (rows, inter) = silu·mul of rmsNorm(sum)·normW through [gate | up]: one kernel (rows <= 4);
   * false when it does not apply.
   */
  static native boolean addRmsNormLinearSiluMul(long ctx, long sum, long out, long a, int lda, long b, int ldb,
      long normW, float eps, long w, int rows, int in, int inter);

  /**
   * sum = a + b; qkv = rmsNorm(sum)·normW · Wᵀ + bias; rotated q into qOut, rotated k and v into their cache slots:
   * one kernel (rows <= 4, interleaved RoPE); false when it does not apply. fp8Kv: an E4M3 cache.
   */
  static native boolean addRmsNormQkvRope(long ctx, long sum, long qOut, long a, int lda, long b, int ldb,
      long normW, float eps, long w, long bias, int rows, int in, long kCache, long vCache, long slots, long pos,
      long inv, int heads, int kvHeads, int headDim, int rot, boolean fp8Kv);

  /**
   * qkv = x · Wᵀ + bias; rotated q into qOut, rotated k and v into their cache slots: one kernel (rows <= 8,
   * interleaved RoPE); false when it does not apply. fp8Kv: an E4M3 cache.
   */
  static native boolean linearQkvRope(long ctx, long qOut, long x, int ldx, long w, long bias, int rows, int in,
      long kCache, long vCache, long slots, long pos, long inv, int heads, int kvHeads, int headDim, int rot,
      boolean fp8Kv);

  /**
   * The kernels' fusion limits, defined once in kernels.cuh: {FUSE_GEMV_MAX_ROWS, FUSE_NORM_MAX_ROWS,
   * FUSE_NORM_MAX_SMEM_BYTES, FUSE_NORM_MAX_IN} ({@link FusionPolicy.Limits}).
   */
  static native int[] fusionLimits();

  /** Makes sure {@code n} profiling events exist. */
  static native void profileEvents(long ctx, int n);

  /** Records profiling event i, after a kernel that keeps the GPU busy for spinMicros (0: none). */
  static native void profileMark(long ctx, int i, int spinMicros);

  /** Waits for the stream; milliseconds between events (2i, 2i + 1). */
  static native float[] profileElapsed(long ctx, int n);

  static native void gather(long ctx, long out, long x, int ldx, long idx, int rows, int cols, int elemBytes);

  static native void linear(long ctx, long y, int ldy, boolean f32Out, long x, int ldx, long w, long bias, int rows,
      int in, int out, boolean allowGemv);

  static native void sample(long ctx, long outTokens, long logits, int ldl, int vocab, long params, int rows);

  static native void toFloat(long ctx, long out, long x, int ldx, int rows, int cols);

  static native void headRmsNorm(long ctx, long out, int ldo, long x, int ldx, long w, int rows, int heads,
      int headDim, float eps);

  static native void routerLogits(long ctx, long logits, long x, int ldx, long w, int rows, int hidden, int experts);

  /** Grouped GEMV over rows sorted by expert; false when the shapes or alignment do not suit the kernel. */
  static native boolean groupedGemv(long ctx, long y, long x, long w, long expertIds, long offsets, int groups, int in,
      int out);

  static native void moeCombine(long ctx, long out, int ldo, long d, long rowOf, long weight, int rows, int k,
      int hidden);

  /**
   * MoeRouter's choice for each of {@code rows} rows of fp32 logits (rows, experts) on the device (moe_route.cu):
   * experts (rows, k) int32 and weights (rows, k) fp32, token-major; {@code biasedOut} (rows, experts) fp32 or 0.
   * False when the router is outside {@link #moeRouteLimits}.
   */
  static native boolean moeRoute(long ctx, long logits, long bias, int rows, int experts, int k, int groups,
      int topkGroups, boolean norm, float scale, long outExperts, long outWeights, long biasedOut);

  /**
   * The plan of {@code pairs} token-major pairs on the device: tokenOfRow, rowOfPair (pairs), expertIds (maxGroups)
   * and offsets (maxGroups + 1), the groups past the step's non-empty experts empty; meta {groups, largest} or 0.
   */
  static native void moePlan(long ctx, long experts, int pairs, int k, int numExperts, int maxGroups,
      long tokenOfRow, long rowOfPair, long expertIds, long offsets, long meta);

  /** moe_route.cu's limits: {most experts, largest top-k, most groups}. */
  static native int[] moeRouteLimits();

  /** {free, total} bytes of {@code device}, without a backend context. */
  static native long[] deviceMemInfo(int device);

  /** Loads NCCL once ({@code path} first, then libnccl.so.2) and returns its version code (22703 = 2.27.3). */
  static native int ncclVersion(String path);

  /** One NCCL communicator per device, rank i on {@code devices[i]}, all in this process. */
  static native long[] ncclInitAll(int[] devices);

  /** Sum over the ranks of {@code count} elements (dtype 0 = bf16, 1 = fp32) on the context's stream. */
  static native void ncclAllReduce(long ctx, long comm, long send, long recv, long count, int dtype);

  /** {@code recv} = every rank's {@code count} elements in rank order, on the context's stream. */
  static native void ncclAllGather(long ctx, long comm, long send, long recv, long count, int dtype);

  static native void ncclAbort(long comm);

  static native void ncclDestroy(long comm);

  /** {@code rows} rows of {@code widthBytes} from pitch {@code spitch} to pitch {@code dpitch}, device to device. */
  static native void copy2dAsync(long ctx, long dst, long dpitch, long src, long spitch, long widthBytes, long rows);

  // ---- FP8 weights (E4M3, block-scaled; bridge_fp8.cu): q e4m3 bytes, s fp32 scales, W[r][c] = e4m3(q[r][c]) ·
  // s[(r >> rowShift) · sld + (c >> colShift)] ----

  /** Copies {@code bytes} bytes of a direct buffer to the device as they are (through the pinned staging). */
  static native void uploadRaw(long ctx, long dst, ByteBuffer src, long bytes);

  /** Quantizes a bf16 (rows, cols) weight into e4m3 q and (ceil(rows/br), ceil(cols/bc)) fp32 scales (kernels.cuh). */
  static native void quantizeFp8(long ctx, long q, long scales, long w, int rows, int cols, int br, int bc);

  /** out (rows, cols) bf16 = the dequantized weight. */
  static native void dequantFp8(long ctx, long out, long q, long s, int sld, int rowShift, int colShift, int rows,
      int cols);

  /**
   * {@link #linear} for an FP8 weight: the FP8 GEMV (rows <= 8, allowGemv); from {@code actMinRows} rows (0: never)
   * the FP8 × FP8 cuBLASLt GEMM, x quantized into {@code scratch} (gemm_fp8_lt.cu), where it applies; the tensor-core
   * FP8 GEMM (rows <= mmaMaxRows); else dequantized into {@code scratch} and cuBLAS.
   */
  static native void linearFp8(long ctx, long y, int ldy, boolean f32Out, long x, int ldx, long q, long s, int sld,
      int rowShift, int colShift, long bias, int rows, int in, int out, boolean allowGemv, int mmaMaxRows,
      int actMinRows, long scratch, long scratchBytes);

  /** {@link #linearSiluMul} for an FP8 [gate | up] weight; false when the kernel does not apply. */
  static native boolean linearSiluMulFp8(long ctx, long out, long x, int ldx, long q, long s, int sld, int rowShift,
      int colShift, int rows, int in, int inter);

  /** {@link #linearQkvRope} for an FP8 QKV weight; false when the kernel does not apply. */
  static native boolean linearQkvRopeFp8(long ctx, long qOut, long x, int ldx, long q, long s, int sld, int rowShift,
      int colShift, long bias, int rows, int in, long kCache, long vCache, long slots, long positions, long invFreq,
      int heads, int kvHeads, int headDim, int rot, boolean fp8Kv);

  /** {@link #groupedGemv} for FP8 experts (expert e's scales at s + 4·e·sStride bytes). */
  static native boolean groupedGemvFp8(long ctx, long y, long x, long q, long s, long sStride, int sld, int rowShift,
      int colShift, long expertIds, long offsets, int groups, int in, int out);
}

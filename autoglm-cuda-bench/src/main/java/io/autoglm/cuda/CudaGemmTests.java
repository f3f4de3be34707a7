package io.autoglm.cuda;

/**
 * The cuBLASLt GEMM path's self-check and timings ({@code cuda.gemm}; native code gemm_lt_check.cu in the backend's
 * library, as {@link CudaSelfTests}): random data filled on the device, the backend context's own per-shape cache,
 * so a shape checked or timed here keeps its tuned choice in that backend.
 */
public final class CudaGemmTests {
  private static final long SEED = 42;

  private CudaGemmTests() {}

  /** "cuBLASLt VERSION loaded", or why it did not load (the lt modes then run cublasGemmEx). */
  public static String ltInfo(CudaBackend backend) {
    return ltInfo(backend.diagnostics().ctx());
  }

  /**
   * y (rows, out) = x (rows, in)·Wᵀ (+ bias) through cuBLASLt, the heuristic's first algorithm and the tuned choice,
   * each against cublasGemmEx with the bias added in fp32: {rel Frobenius, max |Δ| / max |ref|, elements with |Δ| >
   * 2^-8·(|gemmEx| + |Lt|) + 2^-12·max |ref|} for the first algorithm, the same three for the tuned choice, elements
   * that differ bit for bit between two runs of the tuned choice, its index (-1: cublasGemmEx won), candidates,
   * elements, then the worst |Δ| / bound against an fp64 dot product at 256 sampled elements of cublasGemmEx (without
   * bias), Lt #0 and the tuned choice (bound: 2^-8·(|x·w| + |exact|) + 2^-12·Σ|x_k·w_k|). {-1}: cuBLASLt unusable for the shape; {-2}: out of memory; {-3}: a GEMM call failed.
   */
  public static double[] check(CudaBackend backend, int rows, int in, int out, boolean bias, boolean f32Out) {
    return check(backend.diagnostics().ctx(), rows, in, out, bias, f32Out, SEED);
  }

  /**
   * GPU µs per GEMM over weight copies cycled past L2: {cublasGemmEx (+ addBias), cuBLASLt heuristic #0, the tuned
   * choice, its index (-1: cublasGemmEx), candidates, µs the tuning measured}; {-1}, {-2}, {-3} as {@link #check}.
   */
  public static double[] times(CudaBackend backend, int rows, int in, int out, boolean bias, boolean f32Out,
      int iters) {
    return times(backend.diagnostics().ctx(), rows, in, out, bias, f32Out, iters);
  }

  /** The tuned choice of the shape {@link #times} measured last, in words ("algo 66 tile 18 splitK 4 reduction 2"). */
  public static String describeLast(CudaBackend backend) {
    backend.diagnostics();
    return describeLast();
  }

  /**
   * The FP8 × FP8 path (gemm_fp8_lt.cu) on random data, W quantized to 128×128 blocks and x spread over 2^-6..2^6 per
   * 128-column block with one zero block: {outputs outside the elementwise bound of an fp64 reference on the device's
   * own quantized x and W, the worst |Δ| / bound, rel Frobenius against it, rel against the fp64 product with x
   * unquantized, codes and scales differing from a sequential recomputation of the activation quantization, elements
   * differing between two runs, samples}; {-1}: the path does not take the shape; {-2}: out of memory.
   */
  public static double[] fp8Check(CudaBackend backend, int rows, int in, int out, boolean bias) {
    return fp8Check(backend.diagnostics().ctx(), rows, in, out, bias, SEED);
  }

  /**
   * GPU µs per call over weight copies cycled past L2: {FP8 × FP8 (activation quantization + cuBLASLt), the
   * quantization alone, the tensor-core FP8 GEMM (-1: does not apply), dequantization + cublasGemmEx, cublasGemmEx on
   * a bf16 W}; {-1}: the FP8 × FP8 path does not take the shape; {-2}: out of memory.
   */
  public static double[] fp8Times(CudaBackend backend, int rows, int in, int out, int iters) {
    return fp8Times(backend.diagnostics().ctx(), rows, in, out, iters);
  }

  private static native String ltInfo(long ctx);

  private static native double[] fp8Check(long ctx, int rows, int in, int out, boolean bias, long seed);

  private static native double[] fp8Times(long ctx, int rows, int in, int out, int iters);

  private static native double[] check(long ctx, int rows, int in, int out, boolean bias, boolean f32Out, long seed);

  private static native double[] times(long ctx, int rows, int in, int out, boolean bias, boolean f32Out, int iters);

  private static native String describeLast();
}

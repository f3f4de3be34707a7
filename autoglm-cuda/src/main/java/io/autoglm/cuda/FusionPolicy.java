package io.autoglm.cuda;

/**
 * Which small-batch steps take the fused GEMV kernels, decided in one place from the settings ({@code cuda.gemv},
 * {@code cuda.gemvVariant}, {@code cuda.fuse}, {@code cuda.gemvTc}) and the kernels' own limits ({@link Limits},
 * defined once in kernels.cuh and read through JNI). A step asks with its physical row count (the padded bucket in a
 * graph step); when the answer is no, the step runs the separate ops, which compute the same values bit for bit.
 *
 * <p>Where the tensor-core GEMV takes a step's bf16 linears ({@link #gemvTc}: {@code cuda.gemvTc} <= rows <= 8), the
 * fusions it does not implement (the QKV GEMV's RoPE/KV epilogue, the residual add + RMSNorm prologues) are declined,
 * so that those GEMVs run on it too and RoPE and the norm as separate ops; gate_up with SiLU·mul it implements.
 */
final class FusionPolicy {
  /**
   * The kernels' fusion limits (kernels.cuh's FUSE_* constants): rows of the GEMVs with a fused epilogue, rows of the
   * GEMVs with the residual add + RMSNorm in their prologue, the shared memory that holds those normed rows
   * ({@code rows · in · 2} bytes at most), and their widest input.
   */
  record Limits(int gemvMaxRows, int normMaxRows, int normMaxSmemBytes, int normMaxIn) {
    Limits {
      if (gemvMaxRows < 1 || normMaxRows < 1 || normMaxSmemBytes < 1 || normMaxIn < 1) {
        throw new IllegalArgumentException(String.format("fusion limits must be positive, got gemvMaxRows %d, "
            + "normMaxRows %d, normMaxSmemBytes %d, normMaxIn %d", gemvMaxRows, normMaxRows, normMaxSmemBytes,
            normMaxIn));
      }
    }

    /** The limits compiled into the native library. */
    static Limits fromNative() {
      int[] v = CudaNative.fusionLimits();
      return new Limits(v[0], v[1], v[2], v[3]);
    }
  }

  private final CudaSettings settings;
  private final Limits limits;

  FusionPolicy(CudaSettings settings, Limits limits) {
    this.settings = settings;
    this.limits = limits;
  }

  Limits limits() {
    return limits;
  }

  /**
   * Whether a linear of {@code physRows} rows, bf16 or FP8, may take the small-batch GEMV instead of cuBLAS (bf16) or
   * the FP8 tensor-core GEMM: up to {@code cuda.gemvMaxRows} rows, within the kernels' limit (8).
   */
  boolean gemv(int physRows) {
    return gemv(physRows, false);
  }

  /**
   * {@link #gemv(int)} for a weight the tensor-core FP8 GEMVs can take when {@code fp8Mma} ({@link CudaWeight#fp8Mma}):
   * also from {@code cuda.fp8GemvTc} rows (> 0) to the 8 the GEMVs serve, since on the tensor cores 8 rows cost the
   * weight stream of one (gemv_fp8_mma.cu applies the same rule).
   */
  boolean gemv(int physRows, boolean fp8Mma) {
    if (!settings.gemv() || physRows > limits.gemvMaxRows()) {
      return false;
    }
    return physRows <= settings.gemvMaxRows() || fp8Tc(physRows, fp8Mma);
  }

  /** Whether an FP8 linear of {@code physRows} rows runs on the tensor-core FP8 GEMV ({@code cuda.fp8GemvTc}). */
  private boolean fp8Tc(int physRows, boolean fp8Mma) {
    int min = settings.fp8GemvTc();
    return fp8Mma && min > 0 && physRows >= min && physRows <= limits.gemvMaxRows() && settings.gemv();
  }

  /**
   * Whether the bf16 GEMVs of a {@code physRows}-row step run on the tensor-core GEMV (the native side applies the
   * same rule, from the same setting, in launchGemv and launchGemvSilu): {@code cuda.gemvTc} is on and at most
   * {@code physRows}, which the GEMVs serve (at most 8).
   */
  boolean gemvTc(int physRows) {
    int min = settings.gemvTc();
    return min > 0 && physRows >= min && gemv(physRows);
  }

  /** The kernel a linear of {@code physRows} rows takes, in words (profile labels): TC GEMV, GEMV or cuBLAS. */
  String gemvKind(int physRows, boolean fp8, boolean fp8Mma) {
    return !gemv(physRows, fp8Mma) ? (fp8 ? "FP8 GEMM" : "cuBLAS") : fp8Tc(physRows, fp8Mma) ? "TC FP8 GEMV"
        : !fp8 && gemvTc(physRows) ? "TC GEMV" : "GEMV";
  }

  /**
   * Whether the gate_up GEMV takes SiLU·mul into its epilogue ({@code fp8Mma}: as {@link #gemv(int, boolean)}): the
   * kernel may still decline (alignment, split).
   */
  boolean linearSiluMul(int physRows, int in, int weightRows, int weightCols, boolean logitsHead, boolean fp8Mma) {
    return gemv(physRows, fp8Mma) && !logitsHead && weightRows % 2 == 0 && in == weightCols;
  }

  /** Whether steps fuse {@code bit} of {@code cuda.fuse} (it needs the in-split GEMV kernels). */
  boolean fuses(int bit) {
    return (settings.fuse() & bit) != 0 && settings.gemv() && settings.gemvVariant() != 0;
  }

  /**
   * Whether the QKV GEMV takes bias, RoPE and the KV write into its epilogue (interleaved RoPE only; not for a bf16
   * weight where the tensor-core GEMV takes the step, which has no such epilogue; {@code fp8Mma}: as
   * {@link #gemv(int, boolean)}).
   */
  boolean qkvRope(int physRows, int in, int weightCols, boolean interleaved, int headDim, int rotaryDim,
      boolean fp8, boolean fp8Mma) {
    return interleaved && headDim % 2 == 0 && rotaryDim % 2 == 0 && fuses(CudaSettings.FUSE_QKV_ROPE)
        && gemv(physRows, fp8Mma) && in % 8 == 0 && weightCols == in && (fp8 || !gemvTc(physRows));
  }

  /**
   * Whether a GEMV takes the residual add + RMSNorm into its prologue ({@code bit}: FUSE_QKV_NORM or FUSE_MLP_NORM):
   * the normed (rows, in) input must fit the kernel's shared memory, and the tensor-core GEMV (which has no such
   * prologue) must not take the step. {@code logitsHead}: the weight is the LM head or FP8 (no fused-norm kernel).
   */
  boolean norm(int bit, int physRows, int in, int weightCols, boolean logitsHead) {
    return fuses(bit) && gemv(physRows) && physRows <= limits.normMaxRows() && in % 8 == 0 && in <= limits.normMaxIn()
        && 2L * physRows * in <= limits.normMaxSmemBytes() && weightCols == in && !logitsHead && !gemvTc(physRows);
  }
}

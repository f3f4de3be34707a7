package io.autoglm.cuda;

/**
 * Which small-batch steps take the fused GEMV kernels, decided in one place from the settings ({@code cuda.gemv},
 * {@code cuda.gemvVariant}, {@code cuda.fuse}) and the kernels' own limits ({@link Limits}, defined once in
 * kernels.cuh and read through JNI). A step asks with its physical row count (the padded bucket in a graph step);
 * when the answer is no, the step runs the separate ops, which compute the same values bit for bit.
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

  /** Whether a linear of {@code physRows} rows may take the small-batch GEMV instead of cuBLAS. */
  boolean gemv(int physRows) {
    return physRows <= limits.gemvMaxRows() && settings.gemv();
  }

  /** Whether the gate_up GEMV takes SiLU·mul into its epilogue: the kernel may still decline (alignment, split). */
  boolean linearSiluMul(int physRows, int in, int weightRows, int weightCols, boolean logitsHead) {
    return gemv(physRows) && !logitsHead && weightRows % 2 == 0 && in == weightCols;
  }

  /** Whether steps fuse {@code bit} of {@code cuda.fuse} (it needs the in-split GEMV kernels). */
  boolean fuses(int bit) {
    return (settings.fuse() & bit) != 0 && settings.gemv() && settings.gemvVariant() != 0;
  }

  /** Whether the QKV GEMV takes bias, RoPE and the KV write into its epilogue (interleaved RoPE only). */
  boolean qkvRope(int physRows, int in, int weightCols, boolean interleaved, int headDim, int rotaryDim) {
    return interleaved && headDim % 2 == 0 && rotaryDim % 2 == 0 && fuses(CudaSettings.FUSE_QKV_ROPE)
        && physRows <= limits.gemvMaxRows() && in % 8 == 0 && weightCols == in;
  }

  /**
   * Whether a GEMV takes the residual add + RMSNorm into its prologue ({@code bit}: FUSE_QKV_NORM or FUSE_MLP_NORM):
   * the normed (rows, in) input must fit the kernel's shared memory.
   */
  boolean norm(int bit, int physRows, int in, int weightCols, boolean logitsHead) {
    return fuses(bit) && physRows <= limits.normMaxRows() && in % 8 == 0 && in <= limits.normMaxIn()
        && 2L * physRows * in <= limits.normMaxSmemBytes() && weightCols == in && !logitsHead;
  }
}

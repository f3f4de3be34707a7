package io.autoglm.cpu;

import io.autoglm.internal.NativeLibrary;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * The JNI bridge to {@code libautoglm_cpu.so}, which the build compiles with g++ and packs into the jar under
 * {@code native/linux-<arch>/} for the architecture it was built on. Handles are native pointers as longs. Callers
 * check shapes and indices before calling: the native side trusts them.
 */
final class CpuNative {
  private static final String ARCH = NativeLibrary.arch();
  static final String RESOURCE = "/native/linux-" + ARCH + "/libautoglm_cpu.so";
  private static final Optional<String> LOAD_ERROR = load();

  private CpuNative() {}

  /** Why the native library could not be loaded, if it could not. */
  static Optional<String> loadError() {
    return LOAD_ERROR;
  }

  private static Optional<String> load() {
    if (!NativeLibrary.isLinux()) {
      return Optional.of("the cpu-native backend is built for Linux only, this is "
          + System.getProperty("os.name", "") + "/" + ARCH);
    }
    return NativeLibrary.load(CpuNative.class, RESOURCE, path -> System.load(path),
        "autoglm-cpu has no native library for linux-" + ARCH, "it was built on another architecture, or without g++");
  }

  /** The best dispatch level this CPU supports: {@code avx512}, {@code avx2} or {@code scalar}. */
  static native String bestLevel();

  static native boolean levelAvailable(String level);

  /** A context of {@code threads} workers (the caller included) on {@code level}; 0 if the level is unavailable. */
  static native long createContext(int threads, String level, int bf16GemmMinRows);

  static native void destroyContext(long ctx);

  static native String levelName(long ctx);

  /** A matrix of format 0 F32, 1 BF16, 2 Q8 (int8, fp16 scale per 32 columns); 0 when out of memory. */
  static native long weightCreate(int format, long rows, long cols);

  /** Converts {@code rows} rows of {@code src} (dtype 0 F32, 1 BF16, 2 F16) into rows row0.. of the weight. */
  static native void weightFill(long ctx, long weight, long row0, ByteBuffer src, int dtype, long rows);

  static native void weightFree(long weight);

  static native long weightBytes(long weight);

  /** Row {@code row} of a weight, dequantized to fp32. */
  static native void weightRow(long weight, long row, float[] out);

  /**
   * K and V of {@code layers} layers × {@code slots} slots × kvHeads × headDim, fp32 or (fp8) FP8 E4M3 codes with
   * scale 1; 0 when out of memory.
   */
  static native long kvCreate(int layers, long slots, int kvHeads, int headDim, boolean fp8);

  static native void kvFree(long kv);

  static native long stepBegin(long ctx, int[] tokenIds, int[] positions, int[] slots, int[] sequences,
      int[] contextSlots);

  static native void stepEnd(long step);

  static native long fromHost(long step, float[] data);

  static native void toHost(long ptr, long ld, int rows, int cols, float[][] out);

  static native long embedding(long step, long table, long firstRow);

  static native long rmsNorm(long step, long x, long ld, long rows, long cols, long weight, float eps);

  static native long add(long step, long a, long lda, long b, long ldb, long rows, long cols);

  /** {@code x · wᵀ (+ bias)}; bias 0 for none. */
  static native long linear(long step, long x, long ld, long rows, long weight, long bias);

  static native long siluMul(long step, long x, long ld, long rows, long cols);

  static native long rope(long step, long x, long ld, int heads, int headDim, int rotaryDim, boolean interleaved,
      float[] cos, float[] sin);

  static native void writeKv(long step, long kv, int layer, long k, long ldk, long v, long ldv);

  static native long attention(long step, long kv, int layer, long q, long ld, int heads, float scale);

  static native long rows(long step, long x, long ld, long cols, int[] rows);

  /** Read bandwidth of the context's threads over {@code bytes} bytes, best of {@code runs}, bytes per second. */
  static native double readBandwidth(long ctx, long bytes, int runs);
}

package io.autoglm.cpu;

import io.autoglm.backend.BackendOptions;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The cpu-native backend's settings, from {@link BackendOptions#properties()} (the builder's
 * {@code backendProperty}):
 * <ul>
 *   <li>{@code autoglm.quantization}: {@code int8} quantizes every matrix (2-D weight: projections, embedding,
 *       LM head) at load to int8 with an fp16 scale per 32 columns (GGUF Q8_0); absent or {@code none}: bf16.
 *   <li>{@code cpu-native.threads}: worker threads, the calling thread included (default: available processors).
 *   <li>{@code cpu-native.level}: {@code avx512}, {@code avx2} or {@code scalar} (default: the best the CPU has).
 *   <li>{@code cpu-native.bf16GemmMinRows}: rows from which bf16 weights use the bf16-activation GEMM (vdpbf16ps)
 *       instead of fp32 activations (default 16; {@code 0} never).
 *   <li>{@code autoglm.kvCacheDtype} (the builder's {@code kvCacheDtype}): {@code fp8} keeps the KV cache as FP8
 *       E4M3 codes, scale 1; absent or {@code auto}: fp32.
 * </ul>
 */
record CpuSettings(boolean int8, int threads, String level, int bf16GemmMinRows, boolean kvFp8) {
  static final String THREADS = "cpu-native.threads";
  static final String LEVEL = "cpu-native.level";
  static final String BF16_GEMM_MIN_ROWS = "cpu-native.bf16GemmMinRows";
  private static final Set<String> LEVELS = Set.of("avx512", "avx2", "scalar");

  static CpuSettings from(BackendOptions options) {
    Map<String, String> p = options.properties();
    String q = p.getOrDefault(BackendOptions.QUANTIZATION, "none").toLowerCase(Locale.ROOT);
    if (!q.equals("none") && !q.equals("int8")) {
      throw new IllegalArgumentException(String.format("%s = %s: the cpu-native backend quantizes to int8 (or none, "
          + "bf16); fp8 runs on the cuda backend", BackendOptions.QUANTIZATION, p.get(BackendOptions.QUANTIZATION)));
    }
    int threads = positive(p, THREADS, Runtime.getRuntime().availableProcessors(), 1);
    String level = p.getOrDefault(LEVEL, "").toLowerCase(Locale.ROOT);
    if (!level.isEmpty() && !LEVELS.contains(level)) {
      throw new IllegalArgumentException(LEVEL + " = " + p.get(LEVEL) + ": expected one of avx512, avx2, scalar");
    }
    int minRows = positive(p, BF16_GEMM_MIN_ROWS, 16, 0);
    return new CpuSettings(q.equals("int8"), threads, level, minRows == 0 ? Integer.MAX_VALUE : minRows,
        options.kvCacheFp8("cpu-native", true));
  }

  private static int positive(Map<String, String> p, String key, int fallback, int min) {
    String v = p.get(key);
    if (v == null) {
      return fallback;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= min && n <= 1024) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(key + " = " + v + ": expected an integer in [" + min + ", 1024]");
  }
}

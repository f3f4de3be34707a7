package io.autoglm.backend;

import java.util.List;
import java.util.Map;

/**
 * What the builder tells a backend.
 *
 * @param devices device ordinals to use (empty: the backend's default)
 * @param memoryFraction share of free device memory the backend may take for weights and KV cache, in (0, 1]
 * @param properties backend-specific settings, e.g. {@code cuda.cublasPath}
 */
public record BackendOptions(List<Integer> devices, double memoryFraction, Map<String, String> properties) {
  /**
   * The property through which the builder's {@code quantization(...)} reaches the backend: {@code fp8} quantizes
   * the decoder's linear weights (not embeddings, norms or the LM head) of an unquantized checkpoint to block-scaled
   * FP8 (E4M3, 128×128 blocks, {@link io.autoglm.safetensors.BlockScale}) as they load. Absent: weights stay as
   * stored (an FP8 checkpoint stays FP8).
   */
  public static final String QUANTIZATION = "autoglm.quantization";

  /**
   * The property through which the builder's {@code kvCacheDtype(...)} reaches the backend: {@code fp8} stores the
   * KV cache as FP8 E4M3 with scale 1 (saturating at ±448); {@code auto} or absent: the backend's compute dtype.
   */
  public static final String KV_CACHE_DTYPE = "autoglm.kvCacheDtype";

  public BackendOptions {
    devices = List.copyOf(devices);
    properties = Map.copyOf(properties);
    if (!(memoryFraction > 0 && memoryFraction <= 1)) {
      throw new IllegalArgumentException("memoryFraction (" + memoryFraction + ") must be in (0, 1]");
    }
  }

  /**
   * Whether {@link #QUANTIZATION} asks for FP8 quantization at load, for a backend that implements only FP8.
   *
   * @param backend the asking backend's name, for the error
   * @throws IllegalArgumentException when the property holds a value other than {@code fp8}
   */
  public boolean quantizeFp8(String backend) {
    String q = properties.get(QUANTIZATION);
    if (q != null && !q.equals("fp8")) {
      throw new IllegalArgumentException(String.format("backend property %s is %s; the %s backend quantizes to fp8 "
          + "only (int8 is the cpu-native backend's, module autoglm-cpu)", QUANTIZATION, q, backend));
    }
    return q != null;
  }

  /**
   * Whether {@link #KV_CACHE_DTYPE} asks for an FP8 KV cache.
   *
   * @param backend the asking backend's name, for the error
   * @param implemented whether that backend implements an FP8 KV cache
   * @throws IllegalArgumentException when the property holds a value other than {@code auto} or {@code fp8}, or
   *     {@code fp8} on a backend that does not implement it
   */
  public boolean kvCacheFp8(String backend, boolean implemented) {
    String d = properties.getOrDefault(KV_CACHE_DTYPE, "auto");
    if (!d.equals("auto") && !d.equals("fp8")) {
      throw new IllegalArgumentException(String.format("backend property %s is %s; expected auto or fp8",
          KV_CACHE_DTYPE, d));
    }
    if (d.equals("fp8") && !implemented) {
      throw new IllegalArgumentException(String.format("backend property %s is fp8, which the %s backend does not "
          + "implement yet (the cpu backend's reference does: docs/fp8.md#fp8-kv-cache); use auto", KV_CACHE_DTYPE,
          backend));
    }
    return d.equals("fp8");
  }

  public static BackendOptions defaults() {
    return new BackendOptions(List.of(), 0.9, Map.of());
  }
}

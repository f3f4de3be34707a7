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
  public BackendOptions {
    devices = List.copyOf(devices);
    properties = Map.copyOf(properties);
    if (!(memoryFraction > 0 && memoryFraction <= 1)) {
      throw new IllegalArgumentException("memoryFraction (" + memoryFraction + ") must be in (0, 1]");
    }
  }

  public static BackendOptions defaults() {
    return new BackendOptions(List.of(), 0.9, Map.of());
  }
}

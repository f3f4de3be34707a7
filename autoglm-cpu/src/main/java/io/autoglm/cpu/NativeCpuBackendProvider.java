package io.autoglm.cpu;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;

/**
 * Finds the native CPU backend through {@link java.util.ServiceLoader}: name {@code cpu-native}, priority 10 (above
 * the DJL {@code cpu} backend's 0, below {@code cuda}'s 100), available wherever its native library loads (Linux on
 * the architecture the jar was built on: any x86-64 CPU, with AVX2 and AVX-512 BF16 kernels chosen by CPUID).
 */
public final class NativeCpuBackendProvider implements ComputeBackendProvider {
  public static final String NAME = "cpu-native";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int priority() {
    return 10;
  }

  @Override
  public boolean isAvailable() {
    return CpuNative.loadError().isEmpty();
  }

  @Override
  public String unavailableReason() {
    return CpuNative.loadError().orElse("");
  }

  @Override
  public ComputeBackend create(BackendOptions options) {
    if (!isAvailable()) {
      throw new IllegalStateException("backend " + NAME + " is not available: " + unavailableReason());
    }
    return new NativeCpuBackend(CpuSettings.from(options));
  }

  /** The best kernel level of this CPU ({@code avx512}, {@code avx2}, {@code scalar}); empty when unavailable. */
  public static java.util.Optional<String> bestLevel() {
    return CpuNative.loadError().isPresent() ? java.util.Optional.empty()
        : java.util.Optional.of(CpuNative.bestLevel());
  }

  /**
   * Read bandwidth in bytes per second of the backend's threads (as {@code properties} configure them: threads,
   * level) streaming through a {@code bytes}-byte array, best of {@code runs}: the floor of a decode step is the
   * bytes of weights it reads over this.
   */
  public static double readBandwidth(java.util.Map<String, String> properties, long bytes, int runs) {
    try (NativeCpuBackend b = (NativeCpuBackend) new NativeCpuBackendProvider().create(
        new BackendOptions(java.util.List.of(), 1.0, properties))) {
      return b.readBandwidth(bytes, runs);
    }
  }

  /** Whether this CPU can run kernel level {@code level}. */
  public static boolean levelAvailable(String level) {
    return CpuNative.loadError().isEmpty() && CpuNative.levelAvailable(level);
  }
}

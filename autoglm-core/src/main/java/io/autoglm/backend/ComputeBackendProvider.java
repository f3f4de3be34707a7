package io.autoglm.backend;

/**
 * Makes a {@link ComputeBackend}. Implementations are found with {@link java.util.ServiceLoader}
 * ({@code META-INF/services/io.autoglm.backend.ComputeBackendProvider}); when the builder names no backend, the
 * available provider with the highest {@link #priority()} wins.
 */
public interface ComputeBackendProvider {
  /** The name users select it by, e.g. {@code cpu} or {@code cuda}. */
  String name();

  /** Higher wins when no backend is named: the CPU backend is 0, GPU backends are higher. */
  int priority();

  /** Whether this machine can run it; when not, {@link #unavailableReason()} says why. */
  boolean isAvailable();

  /** Why {@link #isAvailable()} is false ("no CUDA driver", "libcublas.so.13 not found"). */
  String unavailableReason();

  ComputeBackend create(BackendOptions options);
}

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

  /**
   * Opens a tensor-parallel group over backends this provider made, one per rank ({@code ranks.get(i)} is rank i,
   * element i of the result its communicator). The CUDA backend opens NCCL here (dlopen of {@code libnccl.so.2}, as
   * with cuBLAS) and fails with a sentence naming the library when it cannot.
   */
  default java.util.List<Communicator> openCommunicators(java.util.List<ComputeBackend> ranks) {
    if (ranks.size() == 1) {
      return java.util.List.of(Communicator.single());
    }
    throw new UnsupportedOperationException(String.format(
        "backend %s offers no collective communication, so it cannot run tensorParallel (%d)", name(), ranks.size()));
  }

  /** How pipeline stages on backends of this provider hand activations on; by default through the host. */
  default ActivationTransfer activationTransfer() {
    return ActivationTransfer.viaHost();
  }
}

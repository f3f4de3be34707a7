package io.autoglm.cuda;

import io.autoglm.backend.ActivationTransfer;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.Communicator;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Finds the CUDA backend through {@link java.util.ServiceLoader}: name {@code cuda}, priority 100 (CPU is 0). */
public final class CudaBackendProvider implements ComputeBackendProvider {
  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public int priority() {
    return 100;
  }

  @Override
  public boolean isAvailable() {
    return problem().isEmpty();
  }

  @Override
  public String unavailableReason() {
    return problem().orElse("");
  }

  private static Optional<String> problem() {
    Optional<String> load = CudaNative.loadError();
    if (load.isPresent()) {
      return load;
    }
    try {
      return CudaNative.deviceCount() > 0 ? Optional.empty() : Optional.of("no CUDA device is visible");
    } catch (IllegalStateException e) {
      return Optional.of(e.getMessage());
    }
  }

  /** Pipeline stages hand activations on device to device (same GPU, or a peer copy). */
  @Override
  public ActivationTransfer activationTransfer() {
    return StepCollectives::transfer;
  }

  /**
   * Tensor-parallel groups run over NCCL, opened at run time (dlopen of {@code libnccl.so.2}, or the property
   * {@code cuda.ncclPath}); one rank per GPU. A missing library fails here with a sentence naming what was tried.
   */
  @Override
  public List<Communicator> openCommunicators(List<ComputeBackend> ranks) {
    if (ranks.size() == 1) {
      return List.of(Communicator.single());
    }
    List<CudaBackend> cuda = new ArrayList<>();
    for (ComputeBackend b : ranks) {
      if (!(b instanceof CudaBackend c)) {
        throw new IllegalArgumentException("an NCCL group needs CUDA backends, got " + b.name());
      }
      cuda.add(c);
    }
    return NcclCommunicator.open(cuda);
  }

  @Override
  public ComputeBackend create(BackendOptions options) {
    problem().ifPresent(p -> {
      throw new IllegalStateException("the CUDA backend is not available: " + p);
    });
    return new CudaBackend(options);
  }
}

package io.autoglm.backend.cpu;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.Communicator;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import java.util.List;

/** The DJL/PyTorch CPU backend: always available, lowest priority. */
public final class CpuBackendProvider implements ComputeBackendProvider {
  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public int priority() {
    return 0;
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public String unavailableReason() {
    return "";
  }

  @Override
  public ComputeBackend create(BackendOptions options) {
    return new DjlCpuBackend(options);
  }

  /** Ranks in this JVM, meeting in host memory. */
  @Override
  public List<Communicator> openCommunicators(List<ComputeBackend> ranks) {
    return Communicator.inProcess(ranks.size());
  }
}

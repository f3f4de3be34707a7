package io.autoglm.backend.contract;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.cpu.CpuBackendProvider;
import io.autoglm.model.ModelConfig;
import java.util.List;
import java.util.Map;

/**
 * The DJL CPU backend against the backend contract. fp32 throughout: 1e-4 of the reference's norm (the fixtures'
 * own tolerance for fp32 compute), and 1e-5 between step layouts (summation order only).
 */
class CpuBackendContractTest extends BackendContract {
  @Override
  protected ComputeBackend newBackend(Map<String, String> properties) {
    return new CpuBackendProvider().create(new BackendOptions(List.of(), 1.0, properties));
  }

  @Override
  protected boolean implementsFp8Kv() {
    return true;
  }

  @Override
  protected String backendName() {
    return "cpu";
  }

  @Override
  protected double referenceTolerance(ModelConfig c) {
    return 1e-4;
  }

  @Override
  protected double layoutTolerance(ModelConfig c) {
    return 1e-5;
  }
}

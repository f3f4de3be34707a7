package io.autoglm.cpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.contract.BackendContract;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The backend contract on one kernel level of the cpu-native backend (skipped where this CPU lacks the level), on
 * the dense fixtures: MoE models are refused ({@link NativeCpuBackendTest}).
 */
abstract class NativeContract extends BackendContract {
  /** {@code avx512}, {@code avx2} or {@code scalar}. */
  protected abstract String level();

  protected boolean int8() {
    return false;
  }

  /** Rows from which bf16 weights take bf16 activations (vdpbf16ps); 0 never, so every layout sums alike. */
  protected int bf16GemmMinRows() {
    return 16;
  }

  @Override
  protected ComputeBackend newBackend(Map<String, String> properties) {
    NativeCpuBackendProvider p = new NativeCpuBackendProvider();
    assumeTrue(p.isAvailable(), p::unavailableReason);
    assumeTrue(NativeCpuBackendProvider.levelAvailable(level()), () -> "this CPU lacks kernel level " + level());
    Map<String, String> props = new HashMap<>();
    props.put(CpuSettings.LEVEL, level());
    props.put(CpuSettings.THREADS, "2");
    props.put(CpuSettings.BF16_GEMM_MIN_ROWS, Integer.toString(bf16GemmMinRows()));
    if (int8()) {
      props.put(BackendOptions.QUANTIZATION, "int8");
    }
    props.putAll(properties);
    return p.create(new BackendOptions(List.of(), 1.0, props));
  }

  @Override
  protected boolean implementsFp8Kv() {
    return true;
  }

  @Override
  protected String backendName() {
    return NativeCpuBackendProvider.NAME;
  }

  @Override
  protected List<String> fixtures() {
    return List.of("glm-tiny", "glm4-tiny", "glm4-tiny-bf16");
  }
}

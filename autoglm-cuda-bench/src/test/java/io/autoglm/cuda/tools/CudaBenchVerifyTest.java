package io.autoglm.cuda.tools;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.cuda.CudaBackendProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code CudaBench verify} as a test: every dense fixture against transformers' references, then the kernel
 * self-checks (skipped without a GPU).
 */
class CudaBenchVerifyTest {
  @Test
  void fixturesMatchReferencesAndKernelsPassTheirSelfChecksOnTheGpu() {
    ComputeBackendProvider p = new CudaBackendProvider();
    assumeTrue(p.isAvailable(), () -> "no GPU: " + p.unavailableReason());
    Path models = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"), "models");
    assumeTrue(Files.isDirectory(models), "fixtures not found at " + models);
    assertTrue(CudaBench.Verify.run(models));
  }
}

package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.backend.ComputeBackendProvider;
import java.util.ServiceLoader;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

class CudaBackendTest {
  @Test
  void providerIsFoundByServiceLoaderAndExplainsAbsence() {
    ComputeBackendProvider p = StreamSupport.stream(ServiceLoader.load(ComputeBackendProvider.class).spliterator(),
        false).filter(x -> x.name().equals("cuda")).findFirst().orElseThrow();
    assertTrue(p.priority() > 0);
    if (!p.isAvailable()) {
      assertFalse(p.unavailableReason().isBlank(), "an unavailable backend says why");
      System.out.println("cuda unavailable here: " + p.unavailableReason());
    }
  }

  @Test
  void decodeBuckets() {
    // powers of two to 8, multiples of 8 to 64, then multiples of 32
    int[][] cases = {{1, 1}, {2, 2}, {3, 4}, {5, 8}, {8, 8}, {9, 16}, {17, 24}, {64, 64}, {65, 96}, {256, 256}};
    for (int[] c : cases) {
      assertEquals(c[1], CudaForwardStep.bucket(c[0]), "bucket(" + c[0] + ")");
    }
    assertEquals(1, CudaForwardStep.ceilPow2(1));
    assertEquals(32, CudaForwardStep.ceilPow2(24));
  }

  @Test
  void missingNcclIsASentenceNamingEveryPathTried() {
    assumeTrue(CudaNative.loadError().isEmpty(), "the native library did not load here");
    String old = System.getProperty("cuda.ncclPath");
    System.setProperty("cuda.ncclPath", "/nonexistent/libnccl.so.2");
    try {
      String version = CudaBackend.ncclVersion();
      assumeTrue(false, "NCCL " + version + " is installed here, so its absence cannot be shown");
    } catch (IllegalStateException e) {
      assertTrue(e.getMessage().startsWith("NCCL not found, which tensor parallelism on the CUDA backend needs; set "
          + "property cuda.ncclPath to libnccl.so.2. Tried:"), e.getMessage());
      assertTrue(e.getMessage().contains("/nonexistent/libnccl.so.2: "), e.getMessage());
      assertTrue(e.getMessage().contains("libnccl.so.2: "), e.getMessage());
    } finally {
      if (old == null) {
        System.clearProperty("cuda.ncclPath");
      } else {
        System.setProperty("cuda.ncclPath", old);
      }
    }
  }
}

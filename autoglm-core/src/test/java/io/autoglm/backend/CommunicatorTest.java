package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.cpu.CpuBackendProvider;
import io.autoglm.backend.cpu.DjlCpuBackend;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The in-process group: sums and gathers in rank order with the same bits on every rank, and an abort frees a rank
 * that waits for a failed one. Without a collective library, a backend's provider refuses tensor parallelism with
 * a sentence.
 */
class CommunicatorTest {
  private static StepBatch oneToken() {
    return new StepBatch(new int[] {0}, new int[] {0}, new int[] {16},
        List.of(new StepBatch.Sequence(0, 1, 1, new int[] {1})));
  }

  /** One rank's collective over {@code mine} (1, n), on its own backend and thread. */
  private static CompletableFuture<float[][]> rank(Communicator c, float[] mine, boolean gather) {
    return CompletableFuture.supplyAsync(() -> {
      try (DjlCpuBackend b = new DjlCpuBackend();
          KvCache kv = b.allocateKv(new KvLayout(1, 2, 16, 1, 4));
          ForwardStep s = b.begin(oneToken(), kv)) {
        Tensor x = s.fromHost(mine, 1, mine.length);
        return s.toHost(gather ? c.allGatherColumns(s, x) : c.allReduceSum(s, x));
      }
    });
  }

  @Test
  void allReduceSumsAndAllGatherConcatenatesInRankOrder() throws Exception {
    List<Communicator> g = Communicator.inProcess(2);
    var r0 = rank(g.get(0), new float[] {1, 2, 0.1f}, false);
    var r1 = rank(g.get(1), new float[] {10, 20, 0.2f}, false);
    assertArrayEquals(new float[] {11, 22, 0.1f + 0.2f}, r0.get(30, TimeUnit.SECONDS)[0]);
    assertArrayEquals(r0.get()[0], r1.get(30, TimeUnit.SECONDS)[0]);
    var g0 = rank(g.get(0), new float[] {1, 2}, true);
    var g1 = rank(g.get(1), new float[] {3}, true);
    assertArrayEquals(new float[] {1, 2, 3}, g1.get(30, TimeUnit.SECONDS)[0]);
    assertArrayEquals(new float[] {1, 2, 3}, g0.get(30, TimeUnit.SECONDS)[0]);
  }

  @Test
  void abortReleasesARankWaitingForAFailedOne() {
    List<Communicator> g = Communicator.inProcess(2);
    var waiting = rank(g.get(1), new float[] {1}, false);
    g.get(0).abort(); // rank 0 failed before its collective
    ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(30, TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("the group was aborted after another rank failed"),
        e.getCause().getMessage());
  }

  @Test
  void aProviderWithoutCollectivesRefusesTensorParallelism() {
    ComputeBackendProvider noCollectives = new ComputeBackendProvider() {
      @Override
      public String name() {
        return "gpu-without-nccl";
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
        throw new UnsupportedOperationException();
      }
    };
    try (DjlCpuBackend a = new DjlCpuBackend(); DjlCpuBackend b = new DjlCpuBackend()) {
      assertEquals(1, noCollectives.openCommunicators(List.of(a)).size());
      var e = assertThrows(UnsupportedOperationException.class, () -> noCollectives.openCommunicators(List.of(a, b)));
      assertEquals("backend gpu-without-nccl offers no collective communication, so it cannot run tensorParallel (2)",
          e.getMessage());
      assertEquals(2, new CpuBackendProvider().openCommunicators(List.of(a, b)).size());
    }
  }
}

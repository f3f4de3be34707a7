package io.autoglm.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoglm.Fixtures;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.Communicator;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.Tensor;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.Checkpoint;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Closing a sharded model releases every rank's backend even when a communicator fails to close (an NCCL teardown
 * error, say): nothing is left holding device memory, and the failures are reported, the first thrown and the rest
 * suppressed.
 */
class ShardedCloseTest {
  @Test
  void everyBackendIsClosedWhenCommunicatorsFailToClose() {
    List<String> closed = Collections.synchronizedList(new ArrayList<>());
    ComputeBackendProvider provider = new ComputeBackendProvider() {
      @Override
      public String name() {
        return "cpu-tracked";
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
        DjlCpuBackend real = new DjlCpuBackend();
        return (ComputeBackend) Proxy.newProxyInstance(ComputeBackend.class.getClassLoader(),
            new Class<?>[] {ComputeBackend.class}, (proxy, m, args) -> {
              if (m.getName().equals("close")) {
                closed.add("backend");
              }
              try {
                return m.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
      }

      @Override
      public List<Communicator> openCommunicators(List<ComputeBackend> ranks) {
        List<Communicator> out = new ArrayList<>();
        for (Communicator c : Communicator.inProcess(ranks.size())) {
          out.add(new Communicator() {
            @Override
            public int rank() {
              return c.rank();
            }

            @Override
            public int size() {
              return c.size();
            }

            @Override
            public Tensor allReduceSum(ForwardStep step, Tensor x) {
              return c.allReduceSum(step, x);
            }

            @Override
            public Tensor allGatherColumns(ForwardStep step, Tensor x) {
              return c.allGatherColumns(step, x);
            }

            @Override
            public void close() {
              throw new IllegalStateException("teardown of rank " + c.rank() + " failed");
            }
          });
        }
        return out;
      }
    };
    Path dir = Fixtures.model("glm4-tiny");
    ModelConfig c = ModelConfig.load(dir);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      ShardedModel m = ShardedModel.load(c, ckpt, new ParallelConfig(2, 1, List.of()), provider,
          BackendOptions.defaults(), 8, 16, LoadProgress.none());
      IllegalStateException e = assertThrows(IllegalStateException.class, m::close);
      assertEquals("teardown of rank 0 failed", e.getMessage());
      assertEquals(1, e.getSuppressed().length);
      assertEquals("teardown of rank 1 failed", e.getSuppressed()[0].getMessage());
      assertEquals(List.of("backend", "backend"), closed);
    }
  }
}

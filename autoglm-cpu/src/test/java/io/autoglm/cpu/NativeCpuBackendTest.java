package io.autoglm.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.AutoGLM;
import io.autoglm.Fixtures;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** How the engine finds the backend, what it refuses, and a step that outlives its backend. */
class NativeCpuBackendTest {
  @BeforeEach
  void available() {
    NativeCpuBackendProvider p = new NativeCpuBackendProvider();
    assumeTrue(p.isAvailable(), p::unavailableReason);
  }

  private static Path model(String name) {
    return Fixtures.root().resolve("models").resolve(name);
  }

  @Test
  void withNoBackendNamedTheEngineTakesCpuNativeOverTheDjlBackend() {
    try (AutoGLM glm = AutoGLM.builder().modelPath(model("glm-tiny")).kvBlocks(16).build()) {
      assertEquals(NativeCpuBackendProvider.NAME, glm.backendName());
    }
    try (AutoGLM glm = AutoGLM.builder().modelPath(model("glm-tiny")).backend("cpu").kvBlocks(16).build()) {
      assertEquals("cpu", glm.backendName(), "the DJL reference stays selectable by name");
    }
  }

  @Test
  void anFp8KvCacheHoldsFourTimesTheTokensOfTheSameBudget() {
    // 1 MiB: fp32 KV of glm-tiny is small enough that the budget, not maxRunningSequences × context, binds
    long budget = 1 << 20;
    int[] blocks = new int[2];
    String[] dtypes = {"auto", "fp8"};
    for (int i = 0; i < 2; i++) {
      try (AutoGLM glm = AutoGLM.builder().modelPath(model("glm-tiny")).backend(NativeCpuBackendProvider.NAME)
          .kvCacheBytes(budget).kvCacheDtype(dtypes[i]).maxRunningSequences(1024).build()) {
        blocks[i] = glm.stats().kvBlocks() - 1; // less the null block
        assertEquals(dtypes[i], glm.config().kvCacheDtype());
        assertTrue(glm.generate(java.util.List.of(1, 2, 3), io.autoglm.SamplingParams.greedy(4)).tokenIds()
            .size() > 0);
      }
    }
    // whole blocks of the budget each: floor(4x) of fp32's count, which is floor(x)
    assertTrue(blocks[1] >= 4 * blocks[0] && blocks[1] < 4 * (blocks[0] + 1),
        "fp32 vs FP8 blocks of a 1 MiB budget: " + java.util.Arrays.toString(blocks));
  }

  @Test
  void aMixtureOfExpertsModelIsRefusedNamingTheBackendsThatRunIt() {
    Throwable e = assertThrows(RuntimeException.class, () -> AutoGLM.builder().modelPath(model("glm4moe-tiny"))
        .backend(NativeCpuBackendProvider.NAME).kvBlocks(16).build().close());
    StringBuilder all = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      all.append(t.getMessage()).append(" | ");
    }
    String m = all.toString();
    assertTrue(m.contains("mixture-of-experts") && m.contains("Glm4MoeForCausalLM") && m.contains("mlp.gate.weight")
        && m.contains("backend(\"cpu\")") && m.contains("backend(\"cuda\")"), m);
  }

  @Test
  void aStepWhoseBackendClosedFailsWithASentence() {
    NativeCpuBackend b = (NativeCpuBackend) new NativeCpuBackendProvider().create(BackendOptions.defaults());
    KvCache kv = b.allocateKv(new KvLayout(1, 4, 16, 1, 16));
    ForwardStep step = b.begin(new StepBatch(new int[] {0}, new int[] {0}, new int[] {0},
        List.of(new StepBatch.Sequence(0, 1, 1, new int[] {0}))), kv);
    b.close();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> step.fromHost(new float[4], 1, 4));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    step.close();
    kv.close(); // already freed with the backend: a no-op
    e = assertThrows(IllegalStateException.class, () -> b.allocateKv(kv.layout()));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  @Test
  void threadsAndLevelAreTheOnesAskedFor() {
    try (NativeCpuBackend b = (NativeCpuBackend) new NativeCpuBackendProvider().create(new BackendOptions(List.of(),
        1.0, Map.of(CpuSettings.THREADS, "3", CpuSettings.LEVEL, "scalar")))) {
      assertEquals(3, b.threads());
      assertEquals("scalar", b.level());
      assertTrue(b.readBandwidth(64L << 20, 2) > 1e8, "a 64 MB streaming read at over 100 MB/s");
    }
  }
}

package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.safetensors.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void oneStep() {
    for (String name : List.of("glm-tiny", "glm4-tiny", "glm4-tiny-bf16")) {
      Path dir = Path.of(System.getProperty("autoglm.fixtures", "../../shared/fixtures"), "models", name);
      ModelConfig c = ModelConfig.load(dir);
      try (var backend = new DjlCpuBackend(); var ckpt = Checkpoint.open(dir)) {
        GlmModel m = GlmModel.load(c, ckpt, backend, LoadProgress.none());
        ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
        KvLayout layout = new KvLayout(c.numLayers(), 16, 16, c.numKvHeads(), c.headDim());
        for (ReferenceSet.Prompt p : ref.prompts()) {
          try (KvCache kv = backend.allocateKv(layout)) {
            int n = p.inputIds().length;
            int[] pos = new int[n];
            int[] rows = new int[n];
            for (int i = 0; i < n; i++) {
              pos[i] = i;
              rows[i] = i;
            }
            int[] table = {1, 2, 3, 4, 5};
            int[] slots = new int[n];
            for (int i = 0; i < n; i++) {
              slots[i] = table[i / 16] * 16 + i % 16;
            }
            StepBatch b = new StepBatch(p.inputIds(), pos, slots, List.of(new StepBatch.Sequence(0, n, n, table)));
            try (ForwardStep s = backend.begin(b, kv)) {
              float[][] got = s.toHost(m.forward(s, rows));
              double max = 0;
              for (int r = 0; r < n; r++) {
                for (int v = 0; v < got[r].length; v++) {
                  max = Math.max(max, Math.abs(got[r][v] - p.logits()[r][v]));
                }
              }
              System.out.println(name + " p" + p.index() + " max=" + max);
              assertTrue(max < 1e-4, name + " " + max);
            }
          }
        }
      }
    }
  }
}

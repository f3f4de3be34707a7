package io.autoglm.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.Fixtures;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.cpu.CpuBackendProvider;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.ModelRunner;
import io.autoglm.testkit.ReferenceSet;
import io.autoglm.safetensors.Checkpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sharded runs on the CPU backend (each logical device its own {@link DjlCpuBackend} and KV cache, tensor ranks on
 * their own threads, the in-process all-reduce) give the logits of the single-device run (≤ 1e-5): every prompt of
 * every fixture, all prompt positions in one prefill step, then {@value #DECODE_STEPS} decode steps through the KV
 * cache with the reference greedy tokens. Each rank's measured weight bytes are about 1/tensorParallel of the
 * checkpoint.
 */
class ParallelEquivalenceTest {
  static final double TOLERANCE = 1e-5;
  static final int DECODE_STEPS = 3;
  static final int BLOCK_SIZE = 16;
  static final int NUM_BLOCKS = 8; // 61 prompt + 3 decode tokens fit in 4 blocks; block 0 stays unused

  static List<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String f : List.of("glm-tiny", "glm4-tiny", "glm4-tiny-bf16", "glm4moe-tiny")) {
      out.add(Arguments.of(f, 2, 1));
      out.add(Arguments.of(f, 1, 2));
    }
    out.add(Arguments.of("glm4-tiny", 2, 2)); // tensor within pipeline stages: 4 logical devices
    out.add(Arguments.of("glm-tiny", 4, 1)); // 4 ranks over 2 KV heads: each KV head on 2 ranks
    out.add(Arguments.of("glm4moe-tiny", 4, 1));
    return out;
  }

  @ParameterizedTest(name = "{0} tensorParallel {1} pipelineParallel {2}")
  @MethodSource("cases")
  void shardedLogitsEqualSingleDevice(String fixture, int tp, int pp) {
    Path dir = Fixtures.model(fixture);
    ModelConfig c = ModelConfig.load(dir);
    ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
    try (Checkpoint ckpt = Checkpoint.open(dir);
        DjlCpuBackend backend = new DjlCpuBackend();
        KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), NUM_BLOCKS, BLOCK_SIZE, c.numKvHeads(),
            c.headDim()));
        ShardedModel sharded = ShardedModel.load(c, ckpt, new ParallelConfig(tp, pp, List.of()),
            new CpuBackendProvider(), BackendOptions.defaults(), NUM_BLOCKS, BLOCK_SIZE, LoadProgress.none())) {
      ModelRunner single = ModelRunner.single(GlmModel.load(c, ckpt, backend, LoadProgress.none()), backend, kv);
      double worst = 0;
      for (ReferenceSet.Prompt p : ref.prompts()) {
        float[][] want = prefillThenDecode(single, p);
        float[][] got = prefillThenDecode(sharded, p);
        double diff = maxDiff(want, got);
        worst = Math.max(worst, diff);
        assertTrue(diff <= TOLERANCE, String.format("%s tp %d pp %d p%d: max |Δlogit| %.3g > %.0e", fixture, tp, pp,
            p.index(), diff, TOLERANCE));
        assertTrue(maxDiff(p.logits(), got) <= 1e-4, fixture + " p" + p.index() + " vs transformers");
      }
      System.out.printf("%s tp %d pp %d: max |Δlogit| vs single device %.3g over %d prompts%n", fixture, tp, pp,
          worst, ref.prompts().size());
      checkBytes(fixture, ckpt, sharded, tp, pp);
    }
  }

  /**
   * Each stage's ranks together read the stage's tensors once plus the replicated ones once per extra rank; with
   * the vocabulary split, a rank of a single-stage model reads little more than 1/tp of the checkpoint.
   */
  private static void checkBytes(String fixture, Checkpoint ckpt, ShardedModel m, int tp, int pp) {
    long total = ckpt.storedBytes();
    long sum = 0;
    StringBuilder line = new StringBuilder();
    for (int s = 0; s < pp; s++) {
      for (int r = 0; r < tp; r++) {
        long bytes = m.weightBytesRead(s, r);
        sum += bytes;
        line.append(String.format(" [stage %d rank %d] %d B (%.3f)", s, r, bytes, bytes / (double) total));
      }
    }
    System.out.printf("%s tp %d pp %d: checkpoint %d B;%s%n", fixture, tp, pp, total, line);
    long replicatedPerStage = replicatedBytes(ckpt, m.plan());
    long kvExtra = replicatedKvBytes(ckpt, m.plan());
    assertEquals(total + (tp - 1) * replicatedPerStage + kvExtra, sum, fixture + ": bytes over all ranks");
    if (pp == 1 && tp == 2) {
      for (int r = 0; r < tp; r++) {
        double share = m.weightBytesRead(0, r) / (double) total;
        assertTrue(share > 0.5 && share < 0.51, String.format(
            "%s rank %d read %.4f of the checkpoint's bytes, expected about 1/%d", fixture, r, share, tp));
      }
    }
  }

  /** Bytes of the tensors every rank loads whole (norms, router): counted once per rank. */
  private static long replicatedBytes(Checkpoint ckpt, ShardingPlan plan) {
    long sum = 0;
    for (String n : ckpt.tensorNames()) {
      var t = ckpt.tensorAnyShape(n);
      if (plan.shard(n, t.shape(), 0).split() == TensorShard.Split.REPLICATED && plan.tensorParallel() > 1) {
        sum += t.data().capacity();
      }
    }
    return sum;
  }

  /** KV heads shared by several ranks (tensorParallel > num_key_value_heads) are read once per sharing rank. */
  private static long replicatedKvBytes(Checkpoint ckpt, ShardingPlan plan) {
    int tp = plan.tensorParallel();
    int kvHeads = plan.config().numKvHeads();
    if (tp <= kvHeads) {
      return 0;
    }
    long kv = 0;
    for (String n : ckpt.tensorNames()) {
      if (n.contains(".k_proj.") || n.contains(".v_proj.")) {
        kv += ckpt.tensorAnyShape(n).data().capacity();
      }
    }
    return kv * (tp / kvHeads - 1);
  }

  /** The prompt's logits at every position (one prefill step), then decode steps with the greedy tokens. */
  static float[][] prefillThenDecode(ModelRunner runner, ReferenceSet.Prompt p) {
    int[] tokens = p.teacherForced();
    int promptLen = p.inputIds().length;
    int steps = Math.min(DECODE_STEPS, tokens.length - promptLen);
    int[] table = new int[(promptLen + steps + BLOCK_SIZE - 1) / BLOCK_SIZE];
    for (int i = 0; i < table.length; i++) {
      table[i] = NUM_BLOCKS - 1 - i; // descending, never block 0
    }
    List<float[]> out = new ArrayList<>();
    out.addAll(List.of(step(runner, tokens, 0, promptLen, table)));
    for (int i = 0; i < steps; i++) {
      out.addAll(List.of(step(runner, tokens, promptLen + i, 1, table)));
    }
    return out.toArray(new float[0][]);
  }

  private static float[][] step(ModelRunner runner, int[] tokens, int start, int n, int[] table) {
    int[] rows = java.util.stream.IntStream.range(0, n).toArray();
    StepBatch b = StepBatch.ofOneSequence(tokens, start, n, table, BLOCK_SIZE);
    return runner.step(b, rows, (s, logits) -> s.toHost(logits));
  }

  /** max |a - b| over the rows both have. */
  static double maxDiff(float[][] a, float[][] b) {
    double max = 0;
    for (int r = 0; r < Math.min(a.length, b.length); r++) {
      assertEquals(a[r].length, b[r].length, "row " + r + " width");
      for (int v = 0; v < a[r].length; v++) {
        max = Math.max(max, Math.abs(a[r][v] - b[r][v]));
      }
    }
    return max;
  }
}

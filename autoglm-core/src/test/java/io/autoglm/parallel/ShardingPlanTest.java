package io.autoglm.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoglm.Fixtures;
import io.autoglm.model.Architecture;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The plan on the fixtures' shapes (hidden 64, 4 heads, 2 KV heads, head_dim 16, intermediate 160, vocab 384,
 * 3 layers; MoE: 8 experts of intermediate 48): which slice each rank loads, and that the ranks' slices, read from
 * the mapped shards, put back together give every stored tensor byte for byte.
 */
class ShardingPlanTest {
  private static final String L0 = "model.layers.0.";

  private static ShardingPlan plan(String fixture, int tp, int pp) {
    return new ShardingPlan(ModelConfig.load(Fixtures.model(fixture)), new ParallelConfig(tp, pp, List.of()));
  }

  private static String shard(ShardingPlan p, String name, long[] shape, int rank) {
    return p.shard(name, shape, rank).toString();
  }

  @Test
  void tensorParallel2SlicesOfGlmTiny() {
    ShardingPlan p = plan("glm-tiny", 2, 1);
    long[] q = {64, 64};
    long[] kv = {32, 64};
    // query heads 0-1 on rank 0, 2-3 on rank 1 (16 rows each); KV head 0 on rank 0, 1 on rank 1.
    assertEquals(L0 + "self_attn.q_proj.weight [32, 64] = rows [0:32]", shard(p, L0 + "self_attn.q_proj.weight", q, 0));
    assertEquals(L0 + "self_attn.q_proj.weight [32, 64] = rows [32:64]", shard(p, L0 + "self_attn.q_proj.weight", q, 1));
    assertEquals(L0 + "self_attn.q_proj.bias [32] = rows [32:64]", shard(p, L0 + "self_attn.q_proj.bias", new long[] {64}, 1));
    assertEquals(L0 + "self_attn.k_proj.weight [16, 64] = rows [16:32]", shard(p, L0 + "self_attn.k_proj.weight", kv, 1));
    assertEquals(L0 + "self_attn.v_proj.bias [16] = rows [0:16]", shard(p, L0 + "self_attn.v_proj.bias", new long[] {32}, 0));
    // o_proj: the columns that rank's heads feed.
    assertEquals(L0 + "self_attn.o_proj.weight [64, 32] = columns [32:64]", shard(p, L0 + "self_attn.o_proj.weight", q, 1));
    // gate_up_proj (320, 64) = [gate 0:160 | up 160:320]: rank 1 holds [gate 80:160 | up 240:320].
    assertEquals(L0 + "mlp.gate_up_proj.weight [160, 64] = rows [80:160, 240:320]",
        shard(p, L0 + "mlp.gate_up_proj.weight", new long[] {320, 64}, 1));
    assertEquals(L0 + "mlp.down_proj.weight [64, 80] = columns [0:80]",
        shard(p, L0 + "mlp.down_proj.weight", new long[] {64, 160}, 0));
    assertEquals("model.embed_tokens.weight [192, 64] = rows [192:384]",
        shard(p, "model.embed_tokens.weight", new long[] {384, 64}, 1));
    assertEquals("lm_head.weight [192, 64] = rows [0:192]", shard(p, "lm_head.weight", new long[] {384, 64}, 0));
    assertEquals(L0 + "input_layernorm.weight [64] = all of [64]", shard(p, L0 + "input_layernorm.weight", new long[] {64}, 1));
    assertEquals(new Partition(0, 3, 3, 2, 1, 192, 384), p.partition(0, 1));
  }

  @Test
  void kvHeadsReplicateWhenRanksOutnumberThem() {
    ShardingPlan p = plan("glm4-tiny", 4, 1);
    long[] kv = {32, 64};
    // 4 ranks, 2 KV heads: ranks 0 and 1 share head 0, ranks 2 and 3 share head 1; one query head each.
    for (int r = 0; r < 4; r++) {
      long head = r / 2;
      assertEquals(L0 + "self_attn.k_proj.weight [16, 64] = rows [" + head * 16 + ":" + (head + 1) * 16 + "]",
          shard(p, L0 + "self_attn.k_proj.weight", kv, r));
      assertEquals(L0 + "self_attn.q_proj.weight [16, 64] = rows [" + r * 16 + ":" + (r + 1) * 16 + "]",
          shard(p, L0 + "self_attn.q_proj.weight", new long[] {64, 64}, r));
      assertEquals(1, p.partition(0, r).numKvHeads());
      assertEquals(1, p.partition(0, r).numHeads());
    }
  }

  @Test
  void moeExpertsSplitByTheirIntermediateDim() {
    ShardingPlan p = plan("glm4moe-tiny", 2, 1);
    String e = "model.layers.1.mlp.experts.5.";
    assertEquals(e + "gate_proj.weight [24, 64] = rows [24:48]", shard(p, e + "gate_proj.weight", new long[] {48, 64}, 1));
    assertEquals(e + "up_proj.weight [24, 64] = rows [0:24]", shard(p, e + "up_proj.weight", new long[] {48, 64}, 0));
    assertEquals(e + "down_proj.weight [64, 24] = columns [24:48]", shard(p, e + "down_proj.weight", new long[] {64, 48}, 1));
    assertEquals("model.layers.1.mlp.gate.weight [8, 64] = all of [8, 64]",
        shard(p, "model.layers.1.mlp.gate.weight", new long[] {8, 64}, 1));
    assertEquals("model.layers.1.mlp.shared_experts.down_proj.weight [64, 24] = columns [24:48]",
        shard(p, "model.layers.1.mlp.shared_experts.down_proj.weight", new long[] {64, 48}, 1));
  }

  @ParameterizedTest(name = "{0} layers over {1} stages")
  @CsvSource({"3, 1, '0-3'", "3, 2, '0-2 2-3'", "3, 3, '0-1 1-2 2-3'", "40, 3, '0-14 14-27 27-40'"})
  void stagesTakeConsecutiveLayersEarlierOnesTheRemainder(int layers, int pp, String expected) {
    ModelConfig c = config(layers, 32, 2);
    ShardingPlan p = new ShardingPlan(c, new ParallelConfig(1, pp, List.of()));
    List<String> got = new ArrayList<>();
    for (int s = 0; s < pp; s++) {
      got.add(p.partition(s, 0).firstLayer() + "-" + p.partition(s, 0).endLayer());
    }
    assertEquals(expected, String.join(" ", got));
    assertEquals(true, p.partition(0, 0).embeds());
    assertEquals(true, p.partition(pp - 1, 0).hasHead());
  }

  /** Every tensor of the checkpoint, rebuilt from the ranks' slices (replicated ones must agree), equals the stored one. */
  @ParameterizedTest(name = "{0} tensorParallel {1}")
  @CsvSource({"glm-tiny, 2", "glm4-tiny-bf16, 2", "glm4moe-tiny, 2", "glm4-tiny, 4", "glm4moe-tiny, 4"})
  void slicesReassembleToTheStoredTensors(String fixture, int tp) {
    ShardingPlan p = plan(fixture, tp, 1);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.model(fixture))) {
      List<ShardedWeights> ranks = new ArrayList<>();
      for (int r = 0; r < tp; r++) {
        ranks.add(new ShardedWeights(ckpt, p, r));
      }
      for (String name : ckpt.tensorNames()) {
        TensorSlice stored = ckpt.tensorAnyShape(name);
        long[] shape = stored.shape();
        Map<Range, byte[]> parts = new LinkedHashMap<>(); // distinct ranges along the split dim -> their bytes
        TensorShard.Split split = p.shard(name, shape, 0).split();
        for (int r = 0; r < tp; r++) {
          TensorShard s = p.shard(name, shape, r);
          List<TensorSlice> slices = ranks.get(r).load(name, shape);
          assertEquals(s.ranges().isEmpty() ? 1 : s.ranges().size(), slices.size(), name);
          for (int i = 0; i < slices.size(); i++) {
            Range range = s.ranges().isEmpty() ? new Range(0, shape[0]) : s.ranges().get(i);
            byte[] bytes = bytes(slices.get(i).data());
            byte[] seen = parts.putIfAbsent(range, bytes);
            if (seen != null) {
              assertArrayEquals(seen, bytes, name + " " + range + ": replicas differ");
            }
          }
        }
        List<Range> ordered = new ArrayList<>(parts.keySet());
        ordered.sort(Comparator.comparingLong(Range::start));
        long next = 0;
        for (Range r : ordered) {
          assertEquals(next, r.start(), name + ": ranges " + ordered + " must tile the dim");
          next = r.end();
        }
        assertEquals(shape[split == TensorShard.Split.COLUMNS ? 1 : 0], next, name + ": ranges " + ordered);
        byte[] rebuilt = split == TensorShard.Split.COLUMNS
            ? interleaveColumns(ordered, parts, (int) shape[0]) : concat(ordered, parts);
        assertArrayEquals(bytes(stored.data()), rebuilt, name + " rebuilt from " + tp + " ranks");
      }
    }
  }

  private static byte[] concat(List<Range> ordered, Map<Range, byte[]> parts) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    ordered.forEach(r -> out.writeBytes(parts.get(r)));
    return out.toByteArray();
  }

  /** Row i of the tensor is row i of each column block, in column order. */
  private static byte[] interleaveColumns(List<Range> ordered, Map<Range, byte[]> parts, int rows) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < rows; i++) {
      for (Range r : ordered) {
        byte[] block = parts.get(r);
        int rowBytes = block.length / rows;
        out.write(block, i * rowBytes, rowBytes);
      }
    }
    return out.toByteArray();
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }

  private static ModelConfig config(int layers, int heads, int kvHeads) {
    return config(layers, heads, kvHeads, 151552);
  }

  private static ModelConfig config(int layers, int heads, int kvHeads, int vocab) {
    return new ModelConfig(Architecture.GLM4, 4096, 13696, layers, heads, kvHeads, 128, vocab, 1e-5, 10000, 64,
        8192, true, false, "bfloat16", List.of(151329));
  }

  @ParameterizedTest(name = "tp {0} pp {1}: {2}")
  @CsvSource(delimiter = '|', value = {
      "3 | 1 | tensorParallel (3) must divide num_attention_heads (32)",
      "2 | 1 | tensorParallel (2) must divide vocab_size (151343)",
      "1 | 41 | pipelineParallel (41) must be <= num_hidden_layers (40): each stage needs a layer"})
  void impossibleSplitsNameTheCounts(int tp, int pp, String message) {
    ModelConfig c = config(40, 32, 2, 151343);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ParallelConfig(tp, pp, List.of()).check(c));
    assertEquals(message, e.getMessage());
  }

  @Test
  void kvHeadRulesFollowVllm() {
    // fewer ranks than KV heads: they must divide the KV heads.
    assertEquals("tensorParallel (4) must divide num_key_value_heads (6)", assertThrows(IllegalArgumentException.class,
        () -> new ParallelConfig(4, 1, List.of()).check(config(40, 48, 6))).getMessage());
    // more ranks than KV heads: a multiple of them, each KV head replicated.
    assertEquals("tensorParallel (6) exceeds num_key_value_heads (4), so it must be a multiple of it: each KV head is "
        + "then replicated on tensorParallel / num_key_value_heads ranks", assertThrows(IllegalArgumentException.class,
        () -> new ParallelConfig(6, 1, List.of()).check(config(40, 48, 4))).getMessage());
    new ParallelConfig(8, 1, List.of()).check(config(40, 32, 2)); // GLM-4-9B on 8 GPUs: each KV head on 4 ranks
  }

  @Test
  void devicesMapLogicalDevices() {
    ParallelConfig sharedGpu = new ParallelConfig(1, 2, List.of(0)); // two stages as logical devices of GPU 0
    assertEquals(0, sharedGpu.deviceOf(0, 0));
    assertEquals(0, sharedGpu.deviceOf(1, 0));
    assertEquals(2, sharedGpu.logicalDevicesPerDevice());
    ParallelConfig grid = new ParallelConfig(2, 2, List.of(4, 5, 6, 7));
    assertEquals(6, grid.deviceOf(1, 0));
    assertEquals(3, new ParallelConfig(2, 2, List.of()).deviceOf(1, 1));
    assertEquals("devices lists 3 ordinals [0, 1, 2]; expected none, tensorParallel × pipelineParallel (2 × 2 = 4), "
        + "or tensorParallel (2) shared by the stages",
        assertThrows(IllegalArgumentException.class, () -> new ParallelConfig(2, 2, List.of(0, 1, 2))).getMessage());
    assertEquals("devices [1, 1] put two tensor-parallel ranks of one stage on one device ([1, 1]); each rank needs its own",
        assertThrows(IllegalArgumentException.class, () -> new ParallelConfig(2, 1, List.of(1, 1))).getMessage());
  }
}

package io.autoglm.parallel;

import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import java.util.List;

/**
 * Which slice of each checkpoint tensor each tensor-parallel rank loads, and which layers each pipeline stage runs
 * (Megatron-style, as vLLM splits GLM):
 * <ul>
 *   <li>column-parallel (rows of the stored (out, in) weight, biases alike): q_proj by query heads, k_proj and
 *       v_proj by KV heads (replicated when tensorParallel exceeds the KV heads: rank r holds KV head
 *       r × kvHeads / tensorParallel), gate_proj, up_proj, and the gate and up halves of gate_up_proj each split,
 *       so rank r holds [gate_r | up_r];
 *   <li>row-parallel (columns of the stored weight): o_proj by query heads, down_proj by the intermediate dim; the
 *       ranks' outputs are partial sums, all-reduced;
 *   <li>vocab-parallel: embed_tokens and lm_head by vocabulary rows (embedding all-reduced, logits all-gathered);
 *   <li>mixture of experts: every rank holds every expert, each split by its intermediate dim like a dense MLP
 *       (tensor-parallel experts, not expert-parallel); the router and its correction bias are replicated;
 *   <li>replicated: the norms (layer, q/k head norms, final).
 * </ul>
 * Stages get consecutive layers, the earlier stages one more when they do not divide evenly.
 */
public final class ShardingPlan {
  private final ModelConfig config;
  private final ParallelConfig parallel;

  public ShardingPlan(ModelConfig config, ParallelConfig parallel) {
    parallel.check(config);
    this.config = config;
    this.parallel = parallel;
  }

  public ModelConfig config() {
    return config;
  }

  public ParallelConfig parallel() {
    return parallel;
  }

  public int tensorParallel() {
    return parallel.tensorParallel();
  }

  public int pipelineParallel() {
    return parallel.pipelineParallel();
  }

  /** Stage {@code stage}'s layers and rank {@code rank}'s heads and vocabulary rows. */
  public Partition partition(int stage, int rank) {
    int pp = pipelineParallel();
    int base = config.numLayers() / pp;
    int extra = config.numLayers() % pp;
    int first = stage * base + Math.min(stage, extra);
    int end = first + base + (stage < extra ? 1 : 0);
    Range vocab = Range.part(config.vocabSize(), tensorParallel(), rank);
    return new Partition(first, end, config.numLayers(), config.numHeads() / tensorParallel(),
        (int) kvHeads(rank).length(), (int) vocab.start(), (int) vocab.end());
  }

  /** Rank {@code rank}'s query heads. */
  Range heads(int rank) {
    return Range.part(config.numHeads(), tensorParallel(), rank);
  }

  /** Rank {@code rank}'s KV heads: its share, or the one head its group of tensorParallel / kvHeads ranks shares. */
  Range kvHeads(int rank) {
    int tp = tensorParallel();
    int kv = config.numKvHeads();
    if (tp <= kv) {
      return Range.part(kv, tp, rank);
    }
    long head = (long) rank * kv / tp;
    return new Range(head, head + 1);
  }

  /** The slice of tensor {@code name} (stored as {@code fullShape}) that rank {@code rank} loads. */
  public TensorShard shard(String name, long[] fullShape, int rank) {
    if (rank < 0 || rank >= tensorParallel()) {
      throw new IllegalArgumentException("rank (" + rank + ") must be in [0, tensorParallel " + tensorParallel() + ")");
    }
    int tp = tensorParallel();
    long d = config.headDim();
    if (tp == 1) {
      return replicated(name, fullShape);
    }
    if (name.endsWith("embed_tokens.weight") || name.endsWith("lm_head.weight")) {
      return rows(name, fullShape, Range.part(fullShape[0], tp, rank));
    }
    if (name.endsWith(".q_proj.weight") || name.endsWith(".q_proj.bias")) {
      return rows(name, fullShape, heads(rank).times(d));
    }
    if (name.endsWith(".k_proj.weight") || name.endsWith(".k_proj.bias") || name.endsWith(".v_proj.weight")
        || name.endsWith(".v_proj.bias")) {
      return rows(name, fullShape, kvHeads(rank).times(d));
    }
    if (name.endsWith(".o_proj.weight")) {
      return new TensorShard(name, fullShape, TensorShard.Split.COLUMNS, List.of(heads(rank).times(d)));
    }
    if (name.endsWith(".gate_up_proj.weight")) {
      long half = fullShape[0] / 2;
      Range part = Range.part(half, tp, rank);
      return new TensorShard(name, fullShape, TensorShard.Split.ROWS, List.of(part, part.shift(half)));
    }
    if (name.endsWith(".gate_proj.weight") || name.endsWith(".up_proj.weight")) {
      return rows(name, fullShape, Range.part(fullShape[0], tp, rank));
    }
    if (name.endsWith(".down_proj.weight")) {
      return new TensorShard(name, fullShape, TensorShard.Split.COLUMNS,
          List.of(Range.part(fullShape[1], tp, rank)));
    }
    return replicated(name, fullShape);
  }

  private static TensorShard rows(String name, long[] fullShape, Range range) {
    return new TensorShard(name, fullShape, TensorShard.Split.ROWS, List.of(range));
  }

  private static TensorShard replicated(String name, long[] fullShape) {
    return new TensorShard(name, fullShape, TensorShard.Split.REPLICATED, List.of());
  }
}

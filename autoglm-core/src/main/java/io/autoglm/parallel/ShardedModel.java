package io.autoglm.parallel;

import io.autoglm.backend.ActivationTransfer;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.Communicator;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.ModelRunner;
import io.autoglm.model.Partition;
import io.autoglm.safetensors.Checkpoint;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A model spread over {@code pipelineParallel × tensorParallel} logical devices, each with its own backend, weights
 * and KV cache: the {@link ModelRunner} for tensor and pipeline parallelism.
 *
 * <p>Threads: tensor rank r drives its devices of every stage, in stage order, from one thread (rank 0 from the
 * caller's, the engine thread); the ranks meet in the stage's {@link Communicator}. Between stages each rank hands
 * its hidden states to its counterpart on the next stage through the provider's {@link ActivationTransfer}. Rank 0
 * of the last stage holds the full logits and runs {@code onLogits}. A failed step aborts the groups, so no rank
 * waits forever, and opens new ones for the next step.
 */
public final class ShardedModel implements ModelRunner, AutoCloseable {
  /** One logical device: stage {@code stage}, rank {@code rank}. */
  private record Device(ComputeBackend backend, GlmModel model, KvCache kv, long weightBytesRead) {}

  private final ShardingPlan plan;
  private final ComputeBackendProvider provider;
  private final Device[][] devices; // [stage][rank]
  private final List<List<Communicator>> groups; // [stage][rank], replaced after a failed step
  private final ActivationTransfer transfer;
  private final KvLayout kvLayout;
  private final ExecutorService rankThreads; // ranks 1..tp-1

  private ShardedModel(ShardingPlan plan, ComputeBackendProvider provider, Device[][] devices,
      List<List<Communicator>> groups, KvLayout kvLayout) {
    this.plan = plan;
    this.provider = provider;
    this.devices = devices;
    this.groups = new ArrayList<>(groups);
    this.transfer = provider.activationTransfer();
    this.kvLayout = kvLayout;
    this.rankThreads = Executors.newFixedThreadPool(Math.max(1, plan.tensorParallel() - 1), r -> {
      Thread t = new Thread(r, "autoglm-tp-rank");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Creates a backend per logical device ({@code base} with that device's ordinal and its share of the memory),
   * loads each one's slices of the checkpoint, allocates its KV cache of {@code numBlocks × blockSizeTokens} slots
   * for its layers and KV heads, and opens one communicator group per stage.
   */
  public static ShardedModel load(ModelConfig c, Checkpoint ckpt, ParallelConfig parallel,
      ComputeBackendProvider provider, BackendOptions base, int numBlocks, int blockSizeTokens,
      LoadProgress progress) {
    return load(c, ckpt, parallel, provider, base, bytesPerElement -> numBlocks, blockSizeTokens, progress);
  }

  /**
   * @param numBlocksFor the KV blocks of every rank, from the element size the first backend made reports
   *     ({@link ComputeBackend#kvBytesPerElement()}): all ranks share one block table
   */
  public static ShardedModel load(ModelConfig c, Checkpoint ckpt, ParallelConfig parallel,
      ComputeBackendProvider provider, BackendOptions base, java.util.function.IntUnaryOperator numBlocksFor,
      int blockSizeTokens, LoadProgress progress) {
    int numBlocks = 0; // set from the first backend made
    ShardingPlan plan = new ShardingPlan(c, parallel);
    int pp = parallel.pipelineParallel();
    int tp = parallel.tensorParallel();
    Device[][] devices = new Device[pp][tp];
    List<ComputeBackend> made = new ArrayList<>();
    List<List<Communicator>> groups = new ArrayList<>();
    try {
      int layersDone = 0;
      for (int s = 0; s < pp; s++) {
        for (int r = 0; r < tp; r++) {
          ComputeBackend backend = provider.create(new BackendOptions(List.of(parallel.deviceOf(s, r)),
              base.memoryFraction() / parallel.logicalDevicesPerDevice(), base.properties()));
          made.add(backend);
          if (made.size() == 1) {
            numBlocks = numBlocksFor.applyAsInt(backend.kvBytesPerElement());
          }
          Partition part = plan.partition(s, r);
          ShardedWeights weights = new ShardedWeights(ckpt, plan, r);
          int offset = layersDone;
          LoadProgress rankProgress = r == tp - 1
              ? (done, total) -> progress.layerLoaded(offset + done, c.numLayers()) : LoadProgress.none();
          GlmModel model = GlmModel.load(c, part, weights, backend, rankProgress);
          KvCache kv = backend.allocateKv(new KvLayout(part.numLocalLayers(), numBlocks, blockSizeTokens,
              part.numKvHeads(), c.headDim()));
          devices[s][r] = new Device(backend, model, kv, weights.bytesRead());
        }
        layersDone += plan.partition(s, 0).numLocalLayers();
      }
      for (int s = 0; s < pp; s++) {
        groups.add(openGroup(provider, devices[s]));
      }
      KvLayout layout = new KvLayout(c.numLayers(), numBlocks, blockSizeTokens, c.numKvHeads(), c.headDim());
      return new ShardedModel(plan, provider, devices, groups, layout);
    } catch (RuntimeException | Error e) {
      List<AutoCloseable> opened = new ArrayList<>();
      groups.forEach(opened::addAll);
      opened.addAll(made);
      RuntimeException closing = closeAll(opened);
      if (closing != null) {
        e.addSuppressed(closing);
      }
      throw e;
    }
  }

  private static List<Communicator> openGroup(ComputeBackendProvider provider, Device[] stage) {
    List<ComputeBackend> backends = new ArrayList<>();
    for (Device d : stage) {
      backends.add(d.backend());
    }
    List<Communicator> group = provider.openCommunicators(backends);
    if (group.size() != stage.length) {
      throw new IllegalStateException(String.format(
          "provider %s opened %d communicators for %d ranks", provider.name(), group.size(), stage.length));
    }
    return group;
  }

  public ShardingPlan plan() {
    return plan;
  }

  /** Bytes of stored weights that stage {@code stage}, rank {@code rank} pulled from the mapped shards. */
  public long weightBytesRead(int stage, int rank) {
    return devices[stage][rank].weightBytesRead();
  }

  @Override
  public KvLayout kvLayout() {
    return kvLayout;
  }

  @Override
  public <R> R step(StepBatch batch, int[] logitRows, OnLogits<R> onLogits) {
    List<Future<?>> others = new ArrayList<>();
    for (int r = 1; r < plan.tensorParallel(); r++) {
      int rank = r;
      others.add(rankThreads.submit(() -> runRank(rank, batch, logitRows, null)));
    }
    RuntimeException failure = null;
    R result = null;
    try {
      result = runRank(0, batch, logitRows, onLogits);
    } catch (RuntimeException e) {
      failure = e;
    }
    for (Future<?> f : others) {
      try {
        f.get();
      } catch (ExecutionException e) {
        if (failure == null) {
          failure = e.getCause() instanceof RuntimeException re ? re
              : new IllegalStateException("tensor-parallel rank failed: " + e.getCause(), e.getCause());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        abortGroups();
        failure = failure != null ? failure : new IllegalStateException("interrupted while ranks ran a step", e);
      }
    }
    if (failure != null) {
      reopenGroups();
      throw failure;
    }
    return result;
  }

  /** Rank {@code rank} through every stage; returns onLogits' result (rank 0) or null. */
  private <R> R runRank(int rank, StepBatch batch, int[] logitRows, OnLogits<R> onLogits) {
    Deque<ForwardStep> open = new ArrayDeque<>();
    try {
      ForwardStep previous = null;
      Tensor out = null;
      for (int s = 0; s < devices.length; s++) {
        Device d = devices[s][rank];
        ForwardStep step = d.backend().begin(batch, d.kv());
        open.push(step);
        Optional<Tensor> hidden = previous == null ? Optional.empty()
            : Optional.of(transfer.transfer(previous, out, step));
        out = d.model().forward(step, hidden, logitRows, groups.get(s).get(rank));
        previous = step;
      }
      if (onLogits == null) {
        previous.complete(); // e.g. launches a replayed CUDA graph: its collectives meet rank 0's
        return null;
      }
      return onLogits.apply(previous, out);
    } catch (RuntimeException | Error e) {
      abortGroups();
      throw e;
    } finally {
      while (!open.isEmpty()) {
        open.pop().close();
      }
    }
  }

  private void abortGroups() {
    groups.forEach(g -> g.forEach(Communicator::abort));
  }

  private synchronized void reopenGroups() {
    for (int s = 0; s < groups.size(); s++) {
      groups.get(s).forEach(Communicator::close); // aborted already; releases what abort left
      groups.set(s, openGroup(provider, devices[s]));
    }
  }

  /**
   * Closes the communicators (before the backends whose devices they use), then every KV cache and backend; a
   * failure of one does not keep the others open. The first failure is thrown at the end, the rest suppressed.
   */
  @Override
  public void close() {
    rankThreads.shutdownNow();
    List<AutoCloseable> all = new ArrayList<>();
    groups.forEach(all::addAll);
    for (Device[] stage : devices) {
      for (Device d : stage) {
        all.add(d.kv());
        all.add(d.backend());
      }
    }
    RuntimeException failure = closeAll(all);
    if (failure != null) {
      throw failure;
    }
  }

  /** Closes each of {@code all} in order, whatever the others do; the first failure (the rest suppressed), or null. */
  private static RuntimeException closeAll(List<AutoCloseable> all) {
    RuntimeException failure = null;
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        if (failure == null) {
          failure = e instanceof RuntimeException re ? re : new IllegalStateException(e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    return failure;
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.AutoGLM;
import io.autoglm.FinishReason;
import io.autoglm.GenerationRequest;
import io.autoglm.GenerationResult;
import io.autoglm.ModelRegistry;
import io.autoglm.ModelRegistry;
import io.autoglm.SamplingParams;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A hot swap on the GPU under load: 32 client threads keep requesting through a {@link ModelRegistry} while a second
 * instance of the glm-4-9b shape (random weights) loads beside the first and replaces it. Passes when no request
 * failed, every request started after the switch was served by the new instance, and the device bytes in use after
 * the old one closed are back to the one-model level (within 2% of one model's footprint: the new instance's lazy
 * allocations, CUDA graphs of the buckets the load reached, may differ from the old one's).
 *
 * <p>Usage: {@code SwapBench WORK_DIR} (writes the random checkpoint there once).
 */
public final class SwapBench {
  private SwapBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: SwapBench WORK_DIR");
      System.exit(2);
    }
    boolean ok = swap(Path.of(args[0]));
    System.out.println(ok ? "PASS" : "FAIL");
    System.exit(ok ? 0 : 1);
  }

  private static AutoGLM load(Path dir, String id) {
    return EngineBench.cuda(dir).modelId(id).kvBlocks(Integer.getInteger("swap.kvBlocks", 4_000))
        .maxRunningSequences(64).maxBatchTokens(1024).build();
  }

  static boolean swap(Path work) throws Exception {
    Path dir = work.resolve("glm-4-9b-chat-random");
    if (!Files.exists(dir.resolve("model.safetensors"))) {
      FastRandomCheckpoint.write(dir);
    }
    long before = CudaDiagnosticsAccess.deviceMemoryInUse(0);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean switched = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    Set<String> servedAfter = ConcurrentHashMap.newKeySet();
    try (ModelRegistry registry = new ModelRegistry(Duration.ofMinutes(2))) {
      registry.register("glm", load(dir, "v1"), true);
      List<Thread> clients = startClients(registry, stop, switched, ok, failures, servedAfter);
      awaitCount(ok, 500); // warm: the buckets this load reaches are captured before the baseline
      long one = CudaDiagnosticsAccess.deviceMemoryInUse(0);
      ModelRegistry.Swap swap = registry.load("glm", "v2", () -> load(dir, "v2"), true);
      swap.serving().get(10, TimeUnit.MINUTES);
      long both = CudaDiagnosticsAccess.deviceMemoryInUse(0);
      switched.set(true);
      swap.previousClosed().get(5, TimeUnit.MINUTES);
      int atClose = ok.get();
      awaitCount(ok, atClose + 500);
      stop.set(true);
      for (Thread t : clients) {
        t.join();
      }
      EngineBench.awaitIdle(registry.current("glm").orElseThrow());
      long after = CudaDiagnosticsAccess.deviceMemoryInUse(0);
      long model = one - before;
      boolean memoryBack = Math.abs(after - one) <= model / 50;
      boolean allNew = servedAfter.equals(Set.of("v2"));
      System.out.printf("swap under load: %d requests ok, %d failed%s; after the switch served by %s%n", ok.get(),
          failures.size(), failures.isEmpty() ? "" : " (" + failures.stream().limit(3).toList() + ")", servedAfter);
      System.out.printf("device bytes in use: before load %d, one model %d (+%d), both loaded %d (+%d), after the "
          + "swap %d (vs one model %+d, %.2f%% of a model): %s%n", before, one, model, both, both - before, after,
          after - one, 100.0 * (after - one) / model, memoryBack ? "BACK" : "NOT BACK");
      return failures.isEmpty() && allNew && memoryBack;
    }
  }

  /** 32 threads requesting through the registry until {@code stop}: 32-token prompts, 16 tokens each. */
  private static List<Thread> startClients(ModelRegistry registry, AtomicBoolean stop, AtomicBoolean switched,
      AtomicInteger ok, Queue<String> failures, Set<String> servedAfter) {
    List<Thread> clients = new ArrayList<>();
    for (int c = 0; c < 32; c++) {
      SplittableRandom r = new SplittableRandom(c);
      Thread t = new Thread(() -> {
        while (!stop.get()) {
          boolean after = switched.get();
          try (ModelRegistry.Lease lease = registry.lease("glm")) {
            int vocab = lease.model().config().vocabSize();
            GenerationResult g = lease.model().submit(GenerationRequest.of(
                EngineBench.ids(CudaBench.randomTokens(r, 32, vocab)),
                SamplingParams.builder().maxNewTokens(16).ignoreEos(true).build())).result().join();
            if (g.finishReason() != FinishReason.LENGTH || g.tokenIds().size() != 16) {
              failures.add(g.finishReason() + " with " + g.tokenIds().size() + " tokens");
            } else {
              ok.incrementAndGet();
              if (after) {
                servedAfter.add(lease.model().modelId());
              }
            }
          } catch (RuntimeException e) {
            failures.add(e.toString());
          }
        }
      }, "swap-client-" + c);
      clients.add(t);
      t.start();
    }
    return clients;
  }

  private static void awaitCount(AtomicInteger counter, int atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (counter.get() < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    if (counter.get() < atLeast) {
      throw new IllegalStateException("only " + counter.get() + " of " + atLeast + " requests within 10 min");
    }
  }
}

package io.autoglm.sched;

import io.autoglm.FinishReason;
import io.autoglm.InferenceException;
import io.autoglm.kv.BlockPool;
import io.autoglm.kv.KvCacheManager;
import io.autoglm.model.ModelRunner;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine thread of one model, each step shaped as vLLM v1's: {@link Scheduler#schedule()} → {@link
 * StepRunner#run} (one forward pass for the whole batch, prefill chunks and decodes mixed, then sampling) → {@link
 * Scheduler#update} → the listeners hear of tokens and ends. Callers hand it sequences through a queue and never
 * block it; it never blocks on a caller (listeners must return at once).
 */
public final class Engine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  /** Tests set {@code -Dautoglm.checkInvariants=true} to audit the block pool after every step. */
  private static final boolean CHECK_INVARIANTS = Boolean.getBoolean("autoglm.checkInvariants");
  /** {@code -Dautoglm.deliveryThread=false}: engines started then deliver on their own thread (A/B runs). */
  static final String DELIVERY_THREAD = "autoglm.deliveryThread";

  /** What callers can ask of the engine thread. */
  private sealed interface Command permits Submit, Wake {}

  private record Submit(Sequence seq) implements Command {}

  private record Wake() implements Command {}

  private final StepRunner runner;
  private final AutoCloseable resources;
  private final Scheduler scheduler;
  private final List<Integer> eosIds;
  private final int maxModelLen;
  private final int maxWaiting;
  private final LinkedBlockingQueue<Command> inbox = new LinkedBlockingQueue<>();
  private final AtomicLong pendingSubmissions = new AtomicLong();
  private final StepClock clock = new StepClock();
  private final Delivery delivery;
  private final Thread thread;
  private final EngineObserver observer;
  private volatile boolean stopping;
  private volatile Throwable failure; // set when the engine thread dies: later submissions fail at once
  private volatile int runningCount;
  private volatile int waitingCount;

  /**
   * Starts an engine thread over a fresh block pool.
   *
   * @param resources closed with the engine, after its thread ends (the KV cache, a sharded model)
   */
  public static Engine start(String name, ModelRunner runner, AutoCloseable resources, EngineLimits limits,
      List<Integer> eosIds, EngineObserver observer) {
    Scheduler scheduler = new Scheduler(new SchedulerConfig(limits.maxRunningSequences(), limits.maxBatchTokens()),
        new KvCacheManager(new BlockPool(limits.numBlocks()), limits.blockSizeTokens(), limits.prefixCaching()));
    return new Engine(name, new StepRunner(runner, limits.vocabLimit()), resources, scheduler, eosIds,
        limits.maxModelLen(), limits.maxWaitingRequests(), observer);
  }

  private Engine(String name, StepRunner runner, AutoCloseable resources, Scheduler scheduler,
      List<Integer> eosIds, int maxModelLen, int maxWaiting, EngineObserver observer) {
    this.runner = runner;
    this.resources = resources;
    this.scheduler = scheduler;
    this.eosIds = List.copyOf(eosIds);
    this.maxModelLen = maxModelLen;
    this.maxWaiting = maxWaiting;
    this.observer = observer;
    this.delivery = new Delivery(name, !"false".equals(System.getProperty(DELIVERY_THREAD)));
    this.thread = new Thread(this::loop, "autoglm-engine-" + name);
    this.thread.setDaemon(true);
    this.thread.start();
  }

  /** Queues a sequence; false when the waiting queue is full (the caller rejects the request). */
  public boolean submit(Sequence seq) {
    if (stopping) {
      throw new IllegalStateException("engine is closed");
    }
    Throwable failed = failure;
    if (failed != null) {
      throw new IllegalStateException("the engine thread stopped after an internal error: " + failed, failed);
    }
    if (pendingSubmissions.incrementAndGet() + waitingCount > maxWaiting) {
      pendingSubmissions.decrementAndGet();
      return false;
    }
    inbox.add(new Submit(seq));
    return true;
  }

  /** Wakes the engine so it notices a cancellation at once. */
  public void wake() {
    inbox.add(new Wake());
  }

  public long steps() {
    return clock.phases().steps();
  }

  /** The engine thread's time per phase, summed over the steps so far. */
  public StepClock.Phases phases() {
    return clock.phases();
  }

  public int numRunning() {
    return runningCount;
  }

  public int numWaiting() {
    return waitingCount + (int) pendingSubmissions.get();
  }

  public double kvUsage() {
    return scheduler.kvUsage();
  }

  /** Nanoseconds of engine steps (scheduling, forward, sampling, bookkeeping), summed. */
  public long loopNanos() {
    return clock.phases().busyNanos();
  }

  /** Nanoseconds inside the backend's forward step and sampling, summed. */
  public long forwardNanos() {
    return clock.phases().forwardNanos();
  }

  public long preemptions() {
    return scheduler.preemptions();
  }

  public int maxModelLen() {
    return maxModelLen;
  }

  private void loop() {
    try {
      while (!stopping) {
        drainInbox(!scheduler.hasWork());
        removeEnded();
        reapCancelledAndExpired();
        if (!scheduler.hasWork()) {
          delivery.flush();
          continue;
        }
        long t0 = System.nanoTime();
        Scheduler.Output out = scheduler.schedule();
        out.preempted().forEach(observer::onPreemption);
        for (Sequence seq : out.admitted()) {
          observer.onAdmitted(seq, seq.cachedPromptTokens().orElse(0));
          delivery.add(new Delivery.Admitted(seq));
        }
        if (!out.chunks().isEmpty()) {
          runStep(out, t0);
        }
        runningCount = scheduler.numRunning();
        waitingCount = scheduler.numWaiting();
        delivery.flush(); // after the counts: a request completes only once the engine no longer holds it
        if (CHECK_INVARIANTS) {
          scheduler.checkInvariants();
        }
        observer.onStep(runningCount, waitingCount, scheduler.kvUsage(), out.numTokens());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      LOG.error("engine thread failed; failing every request it holds", e);
      failure = e;
      failAll(e);
    } finally {
      cancelAll();
      delivery.close();
    }
  }

  private void drainInbox(boolean block) throws InterruptedException {
    Command c = block ? inbox.poll(100, TimeUnit.MILLISECONDS) : inbox.poll();
    while (c != null) {
      if (c instanceof Submit s) {
        pendingSubmissions.decrementAndGet();
        scheduler.add(s.seq());
      }
      c = inbox.poll();
    }
    waitingCount = scheduler.numWaiting();
  }

  /** Ends the sequences whose listener ended them: STOP at a stop string, ERROR (alone) when it threw. */
  private void removeEnded() {
    for (Delivery.Ended e : delivery.takeEnded()) {
      Sequence s = e.seq();
      if (s.isFinished()) {
        continue; // cancelled or timed out meanwhile: that end is queued
      }
      if (e.failure() == null) {
        finish(s, FinishReason.STOP);
      } else {
        LOG.warn("request {} failed alone and ends with finish reason error; its batch goes on", s.id(), e.failure());
        scheduler.remove(s);
        delivery.add(new Delivery.Failed(s, e.failure(), true));
      }
    }
  }

  private void reapCancelledAndExpired() {
    long now = System.nanoTime();
    for (Sequence s : scheduler.held(s -> s.cancelRequested() || now - s.deadlineNanos() > 0)) {
      finish(s, s.cancelRequested() ? FinishReason.CANCELLED : FinishReason.TIMEOUT);
    }
  }

  /**
   * Runs a scheduled step and applies it; {@code t0} is when its scheduling began. The previous step's events are
   * delivered while this one's forward pass runs; they must be before this step is applied, since a listener may
   * have ended its sequence (which then takes no more tokens).
   */
  private void runStep(Scheduler.Output out, long t0) throws InterruptedException {
    long t1 = System.nanoTime();
    StepRunner.Output ran;
    try {
      ran = runner.run(out);
    } catch (RuntimeException e) {
      LOG.error("forward step over {} sequences failed; failing them", out.chunks().size(), e);
      InferenceException failure = new InferenceException(
          "the forward step over " + out.chunks().size() + " sequences failed: " + e, e);
      for (Scheduler.Chunk c : out.chunks()) {
        if (!c.seq().isFinished()) {
          scheduler.remove(c.seq());
          delivery.add(new Delivery.Failed(c.seq(), failure, false));
        }
      }
      return;
    }
    long t2 = System.nanoTime();
    delivery.awaitDelivered();
    long t3 = System.nanoTime();
    removeEnded();
    List<Scheduler.Update> updates = scheduler.update(out, ran, eosIds, maxModelLen);
    long t4 = System.nanoTime();
    updates.forEach(u -> delivery.add(u, scheduler));
    clock.add(out.chunks().size(), t0, t1, t2, t3, t4);
  }

  private void finish(Sequence s, FinishReason reason) {
    scheduler.remove(s);
    runningCount = scheduler.numRunning();
    waitingCount = scheduler.numWaiting();
    delivery.add(new Delivery.End(s, reason));
  }

  private void failAll(Throwable e) {
    InferenceException failure = new InferenceException("the engine thread stopped after an internal error: " + e, e);
    for (Sequence s : scheduler.all()) {
      scheduler.remove(s);
      delivery.add(new Delivery.Failed(s, failure, false));
    }
  }

  private void cancelAll() {
    Command c;
    while ((c = inbox.poll()) != null) {
      if (c instanceof Submit s) {
        scheduler.add(s.seq());
      }
    }
    for (Sequence s : scheduler.all()) {
      finish(s, FinishReason.CANCELLED);
    }
    runningCount = 0;
    waitingCount = 0;
  }

  /** Stops the loop; requests still held finish as CANCELLED. Waits for the thread to end. */
  @Override
  public void close() {
    stopping = true;
    wake();
    try {
      thread.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      resources.close();
    } catch (Exception e) {
      LOG.warn("closing the engine's resources failed", e);
    }
  }
}

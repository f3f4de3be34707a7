package io.autoglm.sched;

import io.autoglm.FinishReason;
import io.autoglm.InferenceException;
import io.autoglm.TokenLogprobs;
import io.autoglm.backend.Sampled;
import io.autoglm.kv.BlockPool;
import io.autoglm.model.ModelRunner;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine thread of one model: schedule → one forward step for the whole batch (prefill chunks and decodes
 * mixed) → sample → emit, in a loop. Callers hand it sequences through a queue and never block it; it never
 * blocks on a caller (listeners must return at once).
 */
public final class Engine implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  /** Tests set {@code -Dautoglm.checkInvariants=true} to audit the block pool after every step. */
  private static final boolean CHECK_INVARIANTS = Boolean.getBoolean("autoglm.checkInvariants");

  /** What callers can ask of the engine thread. */
  private sealed interface Command permits Submit, Wake {}

  private record Submit(Sequence seq) implements Command {}

  private record Wake() implements Command {}

  private final ModelRunner runner;
  private final AutoCloseable resources;
  private final BlockPool pool;
  private final Scheduler scheduler;
  private final List<Integer> eosIds;
  private final int maxModelLen;
  private final int vocabLimit;
  private final int maxWaiting;
  private final LinkedBlockingQueue<Command> inbox = new LinkedBlockingQueue<>();
  private final AtomicLong pendingSubmissions = new AtomicLong();
  private final AtomicLong steps = new AtomicLong();
  private volatile long loopNanos; // time in schedule + step + bookkeeping, summed over steps that ran a forward
  private volatile long forwardNanos; // of which inside ForwardStep (forward pass and sampling)
  private final Thread thread;
  private final EngineObserver observer;
  private volatile boolean stopping;
  private volatile Throwable failure; // set when the engine thread dies: later submissions fail at once
  private volatile int runningCount;
  private volatile int waitingCount;

  /** Told of each step and each preemption (metrics). Called on the engine thread. */
  public interface EngineObserver {
    void onStep(int running, int waiting, double kvUsage, int batchTokens);

    void onPreemption(Sequence seq);

    void onAdmitted(Sequence seq, int cachedTokens);

    static EngineObserver none() {
      return new EngineObserver() {
        @Override
        public void onStep(int running, int waiting, double kvUsage, int batchTokens) {}

        @Override
        public void onPreemption(Sequence seq) {}

        @Override
        public void onAdmitted(Sequence seq, int cachedTokens) {}
      };
    }
  }

  /**
   * @param resources closed with the engine, after its thread ends (the KV cache, a sharded model)
   * @param vocabLimit ids at or above it are never sampled (the tokenizer has no text for them)
   */
  public Engine(String name, ModelRunner runner, AutoCloseable resources, Scheduler scheduler,
      BlockPool pool, List<Integer> eosIds, int maxModelLen, int vocabLimit, int maxWaiting,
      EngineObserver observer) {
    if (vocabLimit < 1) {
      throw new IllegalArgumentException("vocabLimit (" + vocabLimit + ") must be >= 1");
    }
    this.vocabLimit = vocabLimit;
    this.runner = runner;
    this.resources = resources;
    this.pool = pool;
    this.scheduler = scheduler;
    this.eosIds = List.copyOf(eosIds);
    this.maxModelLen = maxModelLen;
    this.maxWaiting = maxWaiting;
    this.observer = observer;
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
    return steps.get();
  }

  public int numRunning() {
    return runningCount;
  }

  public int numWaiting() {
    return waitingCount + (int) pendingSubmissions.get();
  }

  public double kvUsage() {
    return pool.usage();
  }

  /** Nanoseconds of engine steps (scheduling, forward, sampling, bookkeeping), summed. */
  public long loopNanos() {
    return loopNanos;
  }

  /** Nanoseconds inside the backend's forward step and sampling, summed. */
  public long forwardNanos() {
    return forwardNanos;
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
        reapCancelledAndExpired();
        if (!scheduler.hasWork()) {
          continue;
        }
        long t0 = System.nanoTime();
        Scheduler.Output out = scheduler.schedule();
        out.preempted().forEach(observer::onPreemption);
        out.admitted().forEach(this::admitted);
        if (!out.chunks().isEmpty()) {
          runStep(out);
        }
        runningCount = scheduler.numRunning();
        waitingCount = scheduler.numWaiting();
        if (!out.chunks().isEmpty()) {
          loopNanos += System.nanoTime() - t0;
        }
        if (CHECK_INVARIANTS) {
          scheduler.checkInvariants();
        }
        observer.onStep(runningCount, waitingCount, pool.usage(), out.numTokens());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      LOG.error("engine thread failed; failing every request it holds", e);
      failure = e;
      failAll(e);
    } finally {
      cancelAll();
    }
  }

  private void admitted(Sequence seq) {
    observer.onAdmitted(seq, seq.cachedPromptTokens());
    try {
      seq.listener().onAdmitted(); // tracing only: a failure here must not end the request
    } catch (RuntimeException e) {
      LOG.warn("the listener of request {} failed on admission", seq.id(), e);
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

  private void reapCancelledAndExpired() {
    long now = System.nanoTime();
    for (Sequence s : scheduler.all()) {
      if (s.cancelRequested()) {
        finish(s, FinishReason.CANCELLED);
      } else if (now - s.deadlineNanos() > 0) {
        finish(s, FinishReason.TIMEOUT);
      }
    }
  }

  private void runStep(Scheduler.Output out) {
    List<Scheduler.Chunk> chunks = out.chunks();
    StepInputs in = StepInputs.of(chunks, pool, scheduler, runner.kvLayout().blockSizeTokens(), vocabLimit);
    long t0 = System.nanoTime();
    try {
      StepOutput result = runner.step(in.batch(), in.logitRows(), (step, logits) -> {
        float[][] host = in.anyCapture() ? step.toHost(logits) : null;
        Sampled sampled = in.sampleRows().length == 0 ? Sampled.of(new int[0])
            : step.sampleWithLogprobs(in.sampleRows().length == in.logitRows().length ? logits
                : step.rows(logits, in.sampleRows()), in.samplingRows());
        return new StepOutput(host, sampled);
      });
      steps.incrementAndGet();
      forwardNanos += System.nanoTime() - t0;
      apply(chunks, in, result.hostLogits(), result.sampled());
    } catch (RuntimeException e) {
      LOG.error("forward step over {} sequences failed; failing them", chunks.size(), e);
      InferenceException failure = new InferenceException(
          "the forward step over " + chunks.size() + " sequences failed: " + e, e);
      for (Scheduler.Chunk c : chunks) {
        if (!c.seq().isFinished()) {
          scheduler.remove(c.seq());
          notify(c.seq(), l -> l.onError(c.seq(), failure));
        }
      }
    }
  }

  /** What a step hands back: every captured logits row (or null), and the sampled token of each sampling row. */
  private record StepOutput(float[][] hostLogits, Sampled sampled) {}

  /**
   * Applies a step's results sequence by sequence. A sequence whose own handling throws (its detokenizer, stop
   * matcher or listener) ends alone with {@link FinishReason#ERROR}; the others go on.
   */
  private void apply(List<Scheduler.Chunk> chunks, StepInputs in, float[][] host, Sampled sampled) {
    int sampleIndex = 0;
    for (int i = 0; i < chunks.size(); i++) {
      Scheduler.Chunk c = chunks.get(i);
      int token = c.samples() ? sampled.tokens()[sampleIndex] : -1;
      TokenLogprobs logprobs = c.samples() ? sampled.logprobs()[sampleIndex++] : null;
      try {
        applyOne(c, in.firstLogitRow()[i], host, token, logprobs);
      } catch (RuntimeException e) {
        failAlone(c.seq(), e);
      }
    }
  }

  /**
   * @param token the sampled token when the chunk samples
   * @param logprobs its logprobs when the request asked for them, else null
   */
  private void applyOne(Scheduler.Chunk c, int firstLogitRow, float[][] host, int token, TokenLogprobs logprobs) {
    Sequence s = c.seq();
    scheduler.computed(c);
    if (host != null && s.captureLogits()) {
      for (int r = firstLogitRow; r < firstLogitRow + c.numTokens(); r++) {
        s.capturedLogits().add(host[r]);
      }
    }
    if (c.samples()) {
      Optional<FinishReason> done = s.append(token, eosIds, maxModelLen);
      if (s.listener().onToken(s.numOutputTokens() - 1, token, Optional.ofNullable(logprobs))) {
        done = Optional.of(FinishReason.STOP);
      }
      scheduler.publish(s);
      done.ifPresent(reason -> finish(s, reason));
    } else {
      scheduler.publish(s);
    }
  }

  /** Ends one sequence whose own handling failed, freeing its blocks; its listener hears of it once. */
  private void failAlone(Sequence s, Throwable e) {
    LOG.warn("request {} failed alone and ends with finish reason error; its batch goes on", s.id(), e);
    if (!s.isFinished()) {
      scheduler.remove(s);
      runningCount = scheduler.numRunning();
      waitingCount = scheduler.numWaiting();
    }
    notify(s, l -> l.onFailedAlone(s, e));
  }

  /** Calls a listener so that its failure cannot escape into the engine loop (it falls back to onError). */
  private static void notify(Sequence s, java.util.function.Consumer<Sequence.Listener> call) {
    try {
      call.accept(s.listener());
    } catch (RuntimeException e) {
      LOG.error("the listener of request {} failed while being told of its end", s.id(), e);
      try {
        s.listener().onError(s, e);
      } catch (RuntimeException again) {
        LOG.error("the listener of request {} failed again; its caller may not hear of its end", s.id(), again);
      }
    }
  }

  private void finish(Sequence s, FinishReason reason) {
    scheduler.remove(s);
    runningCount = scheduler.numRunning();
    waitingCount = scheduler.numWaiting();
    notify(s, l -> l.onFinish(s, reason));
  }

  private void failAll(Throwable e) {
    InferenceException failure = new InferenceException("the engine thread stopped after an internal error: " + e, e);
    for (Sequence s : scheduler.all()) {
      scheduler.remove(s);
      notify(s, l -> l.onError(s, failure));
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

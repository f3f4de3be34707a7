package io.autoglm.sched;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the listeners what the engine's steps did, in order, on a thread of its own, so that their work (the
 * detokenizer, stop strings, metrics, handing tokens to subscribers) overlaps the next forward pass instead of
 * adding to every step: the engine thread queues one step's events and goes on. Every listener call of every
 * sequence goes through here, so a listener is called by one thread, in the order the engine produced the events,
 * and never again after its end ({@link Sequence.Listener#onFinish}, {@code onFailedAlone} or {@code onError}).
 *
 * <p>A listener can end its own sequence: a token that completes a stop string, or a listener that throws. The
 * engine hears of it through {@link #takeEnded()} and removes the sequence before it applies the next step, so the
 * sequence's tokens are exactly those of the synchronous engine (at most one extra step computes its next row,
 * whose token is dropped); then it queues the sequence's end.
 * With {@code threaded == false} each batch is delivered inline by the engine thread.
 */
final class Delivery implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

  /** One listener call due. */
  sealed interface Event permits Admitted, Token, End, Failed {
    Sequence seq();
  }

  record Admitted(Sequence seq) implements Event {}

  /** A sampled token; {@code then}: the end the engine already decided (a stop id or a length limit). */
  record Token(Sequence seq, int index, int token, Optional<GenerationResult.TokenLogprobs> logprobs,
      Optional<FinishReason> then) implements Event {}

  record End(Sequence seq, FinishReason reason) implements Event {}

  /** {@code alone}: the sequence's own handling failed (onFailedAlone); else its step or the engine (onError). */
  record Failed(Sequence seq, Throwable cause, boolean alone) implements Event {}

  private final boolean threaded;
  private final Thread thread;
  private final LinkedBlockingQueue<List<Event>> queue = new LinkedBlockingQueue<>();
  private final ConcurrentLinkedQueue<Ended> ended = new ConcurrentLinkedQueue<>();
  private final Object lock = new Object();
  private List<Event> pending = new ArrayList<>(); // engine thread only
  private long sent; // batches, engine thread only
  private long done; // batches delivered, guarded by lock
  private volatile boolean closing;

  Delivery(String name, boolean threaded) {
    this.threaded = threaded;
    this.thread = threaded ? new Thread(this::loop, "autoglm-delivery-" + name) : null;
    if (threaded) {
      thread.setDaemon(true);
      thread.start();
    }
  }

  /** Queues an event of the current step (engine thread). */
  void add(Event e) {
    pending.add(e);
  }

  /**
   * Queues what a sequence's step did for its listener (engine thread). A sequence whose own handling failed (its
   * grammar refused the token) ends alone with {@link FinishReason#ERROR}; the others go on. A sequence the step
   * ended (a stop id, a length limit) is removed from {@code scheduler} now.
   */
  void add(Scheduler.Update u, Scheduler scheduler) {
    Sequence s = u.seq();
    if (u.failure().isPresent()) {
      LOG.warn("request {} failed alone and ends with finish reason error; its batch goes on", s.id(),
          u.failure().get());
      scheduler.remove(s);
      add(new Failed(s, u.failure().get(), true));
      return;
    }
    if (u.finished().isPresent()) {
      scheduler.remove(s);
    }
    if (u.token().isPresent()) {
      add(new Token(s, s.numOutputTokens() - 1, u.token().getAsInt(), u.logprobs(), u.finished()));
    } else {
      u.finished().ifPresent(reason -> add(new End(s, reason)));
    }
  }

  /** Hands the queued events on as one batch (engine thread). */
  void flush() {
    if (pending.isEmpty()) {
      return;
    }
    List<Event> batch = pending;
    pending = new ArrayList<>(batch.size());
    if (threaded) {
      sent++;
      queue.add(batch);
    } else {
      deliver(batch);
    }
  }

  /** Waits until every batch handed on is delivered (engine thread). */
  void awaitDelivered() throws InterruptedException {
    if (!threaded) {
      return;
    }
    synchronized (lock) {
      while (done < sent) {
        lock.wait();
      }
    }
  }

  /** A sequence its listener ended: a stop string matched ({@code failure == null}), or it threw. */
  record Ended(Sequence seq, RuntimeException failure) {}

  /** The sequences whose listener ended them since the last call (engine thread). */
  List<Ended> takeEnded() {
    List<Ended> out = new ArrayList<>();
    for (Ended e; (e = ended.poll()) != null; ) {
      out.add(e);
    }
    return out;
  }

  private void loop() {
    try {
      while (!closing || !queue.isEmpty()) {
        List<Event> batch = queue.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
        if (batch != null) {
          deliver(batch);
          synchronized (lock) {
            done++;
            lock.notifyAll();
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void deliver(List<Event> batch) {
    for (Event e : batch) {
      try {
        if (!e.seq().listenerEnded()) {
          deliver(e);
        }
      } catch (RuntimeException | Error t) { // Listeners.notify catches the listener's own; this is ours
        LOG.error("delivering {} to request {} failed", e.getClass().getSimpleName(), e.seq().id(), t);
      }
    }
  }

  private void deliver(Event e) {
    Sequence s = e.seq();
    if (e instanceof Admitted) {
      Listeners.admitted(s);
    } else if (e instanceof Token t) {
      token(s, t);
    } else if (e instanceof End x) {
      end(s, x.reason());
    } else if (e instanceof Failed f) {
      s.markListenerEnded();
      Listeners.notify(s, f.alone() ? l -> l.onFailedAlone(s, f.cause()) : l -> l.onError(s, f.cause()));
    }
  }

  /**
   * A token, and the end the engine decided with it. A listener that says a stop string matched, or that throws,
   * ends its sequence: the engine hears of it ({@link #takeEnded}), removes the sequence and then queues its end
   * (STOP, or ERROR alone while the rest of the batch goes on), so the request completes only once its blocks are
   * free, as with the synchronous engine.
   */
  private void token(Sequence s, Token t) {
    try {
      if (s.listener().onToken(t.index(), t.token(), t.logprobs())) {
        ended.add(new Ended(s, null));
        return;
      }
    } catch (RuntimeException ex) {
      ended.add(new Ended(s, ex));
      return;
    }
    t.then().ifPresent(reason -> end(s, reason));
  }

  private void end(Sequence s, FinishReason reason) {
    s.markListenerEnded();
    Listeners.notify(s, l -> l.onFinish(s, reason));
  }

  /** Delivers what is still queued, then stops the thread (engine thread, at its end). */
  @Override
  public void close() {
    flush();
    closing = true;
    if (threaded) {
      try {
        thread.join(java.util.concurrent.TimeUnit.SECONDS.toMillis(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}

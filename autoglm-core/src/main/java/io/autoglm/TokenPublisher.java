package io.autoglm;

import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A single-subscriber {@link Flow.Publisher} that buffers every item until it is requested, so the producer (the
 * engine thread) never waits and a late subscriber misses nothing. Delivery runs on {@code executor}, serialised.
 * Cancelling the subscription runs {@code onCancel}.
 */
final class TokenPublisher<T> implements Flow.Publisher<T> {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TokenPublisher.class);
  private final Executor executor;
  private final Runnable onCancel;
  private final ConcurrentLinkedQueue<T> queue = new ConcurrentLinkedQueue<>();
  private final AtomicReference<Flow.Subscriber<? super T>> subscriber = new AtomicReference<>();
  private final AtomicLong demand = new AtomicLong();
  private final AtomicInteger wip = new AtomicInteger();
  private volatile boolean done;
  private volatile Throwable error;
  private volatile boolean cancelled;
  private boolean terminated;

  TokenPublisher(Executor executor, Runnable onCancel) {
    this.executor = executor;
    this.onCancel = onCancel;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super T> s) {
    Objects.requireNonNull(s, "subscriber");
    if (!subscriber.compareAndSet(null, s)) {
      s.onSubscribe(new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {}
      });
      s.onError(new IllegalStateException("this token stream already has a subscriber; it allows one"));
      return;
    }
    s.onSubscribe(new Flow.Subscription() {
      @Override
      public void request(long n) {
        if (n <= 0) {
          error = new IllegalArgumentException("request(" + n + "): demand must be > 0 (Reactive Streams 3.9)");
          done = true;
        } else {
          demand.getAndAccumulate(n, (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
        }
        drain();
      }

      @Override
      public void cancel() {
        if (!cancelled) {
          cancelled = true;
          queue.clear();
          onCancel.run();
        }
      }
    });
    drain();
  }

  void offer(T item) {
    if (!cancelled) {
      queue.add(item);
      drain();
    }
  }

  void complete() {
    done = true;
    drain();
  }

  void fail(Throwable t) {
    error = t;
    done = true;
    drain();
  }

  private void drain() {
    if (subscriber.get() != null && wip.getAndIncrement() == 0) {
      try {
        executor.execute(this::drainLoop);
      } catch (java.util.concurrent.RejectedExecutionException e) { // the model is closing: deliver here, never hang
        drainLoop();
      }
    }
  }

  /**
   * A subscriber that throws breaks Reactive Streams rule 2.13; its subscription counts as cancelled (rule 2.13
   * allows it), so the request stops and frees its blocks instead of leaving the stream stuck.
   */
  private void subscriberFailed(String signal, Throwable t) {
    LOG.warn("a token stream subscriber threw from {}; cancelling its request", signal, t);
    if (!cancelled) {
      cancelled = true;
      queue.clear();
      onCancel.run();
    }
  }

  private void drainLoop() {
    Flow.Subscriber<? super T> s = subscriber.get();
    do {
      while (!cancelled && !terminated) {
        if (demand.get() > 0 && !queue.isEmpty()) {
          T item = queue.poll();
          demand.decrementAndGet();
          try {
            s.onNext(item);
          } catch (RuntimeException | LinkageError | AssertionError e) {
            subscriberFailed("onNext", e);
          }
        } else if (done && (queue.isEmpty() || error != null)) {
          terminated = true;
          try {
            if (error != null) {
              s.onError(error);
            } else {
              s.onComplete();
            }
          } catch (RuntimeException | LinkageError | AssertionError e) {
            LOG.warn("a token stream subscriber threw from {}", error != null ? "onError" : "onComplete", e);
          }
        } else {
          break;
        }
      }
    } while (wip.decrementAndGet() != 0);
  }
}

package io.autoglm;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;

/**
 * A request in flight: its final result, its token stream, and a way to cancel it. Cancelling (here, through
 * {@code result().cancel(…)}, or by cancelling the stream's subscription) frees the request's KV blocks at the
 * engine's next step.
 */
public final class GenerationHandle {
  private final String requestId;
  private final CompletableFuture<GenerationResult> result;
  private final TokenPublisher<TokenEvent> tokens;
  private volatile Runnable onCancel = () -> {};
  private final CompletableFuture<Void> admitted = new CompletableFuture<>();
  private final CompletableFuture<Void> firstToken = new CompletableFuture<>();

  GenerationHandle(String requestId, Executor callbacks) {
    this.requestId = requestId;
    this.tokens = new TokenPublisher<>(callbacks, this::cancel);
    this.result = new CompletableFuture<>() {
      @Override
      public boolean cancel(boolean mayInterruptIfRunning) {
        GenerationHandle.this.cancel();
        return super.cancel(mayInterruptIfRunning);
      }
    };
  }

  /** What cancelling does: flag the engine's sequence, or (a cached request) stop waiting. */
  void onCancel(Runnable action) {
    this.onCancel = action;
  }

  public String requestId() {
    return requestId;
  }

  /** Completes with the result (also when cancelled or timed out: see its finish reason), or exceptionally. */
  public CompletableFuture<GenerationResult> result() {
    return result;
  }

  /**
   * Completes (on a callback thread) when the engine first takes the request from its queue into the running batch;
   * never for a request answered by the response cache. For tracing the queue and prefill phases.
   */
  public CompletableFuture<Void> admitted() {
    return admitted.copy();
  }

  /** Completes (on a callback thread) when the first output token is sampled; never for a cached answer. */
  public CompletableFuture<Void> firstToken() {
    return firstToken.copy();
  }

  CompletableFuture<Void> admittedFuture() {
    return admitted;
  }

  CompletableFuture<Void> firstTokenFuture() {
    return firstToken;
  }

  /** The generated tokens as they come; completes after the last one. One subscriber. */
  public Flow.Publisher<TokenEvent> tokens() {
    return tokens;
  }

  /** Calls {@code action} with each token on a callback thread (never the engine's); returns at once. */
  public void onToken(java.util.function.Consumer<TokenEvent> action) {
    subscribeUnbounded(action, t -> {}, () -> {});
  }

  /** Subscribes to {@link #tokens()} with unbounded demand. */
  private void subscribeUnbounded(java.util.function.Consumer<TokenEvent> onNext,
      java.util.function.Consumer<Throwable> onError, Runnable onComplete) {
    tokens.subscribe(new Flow.Subscriber<>() {
      @Override
      public void onSubscribe(Flow.Subscription s) {
        s.request(Long.MAX_VALUE);
      }

      @Override
      public void onNext(TokenEvent item) {
        onNext.accept(item);
      }

      @Override
      public void onError(Throwable t) {
        onError.accept(t);
      }

      @Override
      public void onComplete() {
        onComplete.run();
      }
    });
  }

  /**
   * The tokens as a blocking iterable: {@code next()} waits for the next token; iteration ends when the request
   * does, and rethrows its failure. Subscribes to {@link #tokens()}, so use one consumption style per request.
   */
  public Iterable<TokenEvent> blockingTokens() {
    java.util.concurrent.LinkedBlockingQueue<Object> queue = new java.util.concurrent.LinkedBlockingQueue<>();
    Object end = new Object();
    subscribeUnbounded(queue::add, queue::add, () -> queue.add(end));
    return () -> new java.util.Iterator<>() {
      private Object next;

      @Override
      public boolean hasNext() {
        if (next == null) {
          try {
            next = queue.take();
          } catch (InterruptedException e) {
            cancel();
            Thread.currentThread().interrupt();
            throw new java.util.concurrent.CancellationException("interrupted while streaming " + requestId);
          }
        }
        if (next instanceof Throwable t) {
          throw t instanceof RuntimeException re ? re : new IllegalStateException(t);
        }
        return next != end;
      }

      @Override
      public TokenEvent next() {
        if (!hasNext()) {
          throw new java.util.NoSuchElementException("request " + requestId + " has no more tokens");
        }
        TokenEvent e = (TokenEvent) next;
        next = null;
        return e;
      }
    };
  }

  /** Stops the request; its result completes with {@link FinishReason#CANCELLED}. Idempotent. */
  public void cancel() {
    onCancel.run();
  }

  TokenPublisher<TokenEvent> publisher() {
    return tokens;
  }

  CompletableFuture<GenerationResult> future() {
    return result;
  }
}

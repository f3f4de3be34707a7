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

  /** The generated tokens as they come; completes after the last one. One subscriber. */
  public Flow.Publisher<TokenEvent> tokens() {
    return tokens;
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

package io.autoglm;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A hold on the instance serving a {@link ModelRegistry} name: while any lease on it is open, a swap does not close
 * it. Close it once the requests submitted through it have ended (or {@link #closeWhenDone}); closing twice has no
 * further effect.
 */
public final class ModelLease implements AutoCloseable {
  private final ModelInstance instance;
  private final AtomicBoolean closed = new AtomicBoolean();

  ModelLease(ModelInstance instance) {
    this.instance = instance;
  }

  /** The instance; valid until this lease is closed. */
  public AutoGLM model() {
    if (closed.get()) {
      throw new IllegalStateException("lease on " + instance.glm.modelId() + " is closed");
    }
    return instance.glm;
  }

  /** Closes this lease once every one of {@code results} has completed (in any way). */
  public void closeWhenDone(List<? extends CompletableFuture<?>> results) {
    CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).whenComplete((r, e) -> close());
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      instance.release();
    }
  }
}

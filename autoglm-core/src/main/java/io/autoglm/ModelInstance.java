package io.autoglm;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One loaded model and its leases. {@link #tryAcquire} counts first and checks {@code retired} second, and
 * {@link #retire} sets {@code retired} first and reads the count second (both volatile): so either a lease sees
 * the retirement and backs off, or the retirement sees the lease and waits for it.
 */
final class ModelInstance {
  final AutoGLM glm;
  final boolean owned;
  final AtomicInteger inFlight = new AtomicInteger();
  final CompletableFuture<Void> drained = new CompletableFuture<>();
  private volatile boolean retired;

  ModelInstance(AutoGLM glm, boolean owned) {
    this.glm = glm;
    this.owned = owned;
  }

  boolean tryAcquire() {
    inFlight.incrementAndGet();
    if (!retired) {
      return true;
    }
    release();
    return false;
  }

  void release() {
    if (inFlight.decrementAndGet() == 0 && retired) {
      drained.complete(null);
    }
  }

  void retire() {
    retired = true;
    if (inFlight.get() == 0) {
      drained.complete(null);
    }
  }

  ModelStatus status(String name, ModelStatus.State state) {
    return new ModelStatus(name, glm.modelId(), state, inFlight.get(), Optional.empty());
  }
}

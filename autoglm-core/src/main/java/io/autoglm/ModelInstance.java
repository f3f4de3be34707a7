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
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelRegistry.class);

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

  ModelRegistry.Status status(String name, ModelRegistry.Status.State state) {
    return new ModelRegistry.Status(name, glm.modelId(), state, inFlight.get(), Optional.empty());
  }

  /** Retires this instance, waits for its leases (up to {@code drainTimeout}), then closes it when owned. */
  void drainAndClose(java.time.Duration drainTimeout) {
    retire();
    try {
      drained.get(drainTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      LOG.warn("{} still holds {} requests after the drain timeout {}; closing it cancels them", glm.modelId(),
          inFlight.get(), drainTimeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e);
    }
    if (owned) {
      glm.close();
    }
    LOG.info("closed {} after draining", glm.modelId());
  }
}

package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;

/**
 * The engine the starter serves, and its life cycle: LOADING (on a background thread), then READY or FAILED; at
 * shutdown DRAINING (no new requests; in-flight ones finish, up to the shutdown timeout), then CLOSED.
 *
 * <p>The HTTP API, the health indicator and the {@code autoglm} endpoint read the engine through this holder, so the
 * application can start and report OUT_OF_SERVICE while a large checkpoint loads. An engine this holder loaded is
 * closed by it; an engine given to it ({@link #of}) is drained but left to its owner to close.
 */
public final class AutoGLMProvider implements DisposableBean {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLMProvider.class);

  /** Where the engine is in its life cycle. */
  public enum State {
    LOADING,
    READY,
    FAILED,
    DRAINING,
    CLOSED
  }

  private final CompletableFuture<AutoGLM> engine;
  private final boolean owned;
  private final Duration shutdownTimeout;
  private volatile boolean draining;
  private volatile boolean closed;

  private AutoGLMProvider(CompletableFuture<AutoGLM> engine, boolean owned, Duration shutdownTimeout) {
    this.engine = engine;
    this.owned = owned;
    this.shutdownTimeout = Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
  }

  /** Loads on a daemon thread named {@code autoglm-loader}; the application starts meanwhile. */
  public static AutoGLMProvider loadInBackground(Supplier<AutoGLM> loader, Duration shutdownTimeout) {
    CompletableFuture<AutoGLM> future = new CompletableFuture<>();
    AutoGLMProvider provider = new AutoGLMProvider(future, true, shutdownTimeout);
    Thread t = new Thread(() -> provider.load(loader), "autoglm-loader");
    t.setDaemon(true);
    t.start();
    return provider;
  }

  /** Loads now, on the calling thread; a failure is thrown. */
  public static AutoGLMProvider loadNow(Supplier<AutoGLM> loader, Duration shutdownTimeout) {
    return new AutoGLMProvider(CompletableFuture.completedFuture(loader.get()), true, shutdownTimeout);
  }

  /** Serves an engine someone else built and closes. */
  public static AutoGLMProvider of(AutoGLM glm, Duration shutdownTimeout) {
    return new AutoGLMProvider(CompletableFuture.completedFuture(glm), false, shutdownTimeout);
  }

  private void load(Supplier<AutoGLM> loader) {
    long start = System.nanoTime();
    try {
      AutoGLM glm = loader.get();
      if (closed) { // shut down while loading: nobody will close it later
        glm.close();
        engine.completeExceptionally(new IllegalStateException("the application shut down while the model loaded"));
        return;
      }
      engine.complete(glm);
      LOG.info("model {} ready after {} ms", glm.modelId(), (System.nanoTime() - start) / 1_000_000);
    } catch (RuntimeException | Error e) {
      LOG.error("model failed to load: {}", e.toString(), e);
      engine.completeExceptionally(e);
    }
  }

  public State state() {
    if (closed) {
      return State.CLOSED;
    }
    if (draining) {
      return State.DRAINING;
    }
    if (!engine.isDone()) {
      return State.LOADING;
    }
    return engine.isCompletedExceptionally() ? State.FAILED : State.READY;
  }

  /** The engine once READY (also while DRAINING, for in-flight requests and monitoring). */
  public Optional<AutoGLM> get() {
    return engine.isDone() && !engine.isCompletedExceptionally() && !closed ? Optional.of(engine.join())
        : Optional.empty();
  }

  /** Why loading failed, when it did. */
  public Optional<Throwable> failure() {
    if (!engine.isCompletedExceptionally()) {
      return Optional.empty();
    }
    try {
      engine.join();
      return Optional.empty();
    } catch (CompletionException e) {
      return Optional.of(e.getCause() != null ? e.getCause() : e);
    }
  }

  /**
   * Waits for the engine to load.
   *
   * @throws IllegalStateException when loading failed, or took longer than {@code timeout}
   */
  public AutoGLM await(Duration timeout) {
    try {
      return engine.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the model to load", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("the model failed to load: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("the model did not load within " + timeout, e);
    }
  }

  /** Stops admitting requests, waits (up to the shutdown timeout) for in-flight ones, then closes an owned engine. */
  @Override
  public void destroy() {
    draining = true;
    Optional<AutoGLM> glm = get();
    if (glm.isPresent()) {
      drain(glm.get());
      if (owned) {
        glm.get().close();
      }
    }
    closed = true;
  }

  private void drain(AutoGLM glm) {
    long deadline = System.nanoTime() + shutdownTimeout.toNanos();
    EngineStats s = glm.stats();
    if (s.running() + s.waiting() > 0) {
      LOG.info("draining {} running and {} waiting requests (up to {})", s.running(), s.waiting(), shutdownTimeout);
    }
    while (s.running() + s.waiting() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      s = glm.stats();
    }
    if (s.running() + s.waiting() > 0) {
      LOG.warn("shutdown timeout {} passed: cancelling {} running and {} waiting requests", shutdownTimeout,
          s.running(), s.waiting());
    }
  }
}

package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.ModelRegistry;
import io.autoglm.ModelRegistry;
import io.autoglm.ModelRegistry;
import java.time.Duration;
import java.util.List;
import java.util.NoSuchElementException;
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
 * application can start and report OUT_OF_SERVICE while a large checkpoint loads. Behind it is a
 * {@link ModelRegistry} with one name: {@link #swap} loads another checkpoint beside the serving one and switches to
 * it with no failed request (the state stays READY throughout; a failed swap leaves the old model serving). An
 * engine this holder loaded (or swapped in) is closed by it; an engine given to it ({@link #of}) is drained but left
 * to its owner to close.
 */
public final class AutoGLMProvider implements DisposableBean {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLMProvider.class);
  static final String NAME = "default";

  /** Where the engine is in its life cycle. */
  public enum State {
    LOADING,
    READY,
    FAILED,
    DRAINING,
    CLOSED
  }

  private final ModelRegistry registry;
  private final CompletableFuture<AutoGLM> first;
  private final Duration shutdownTimeout;
  private volatile Optional<String> servedName;
  private volatile boolean draining;
  private volatile boolean closed;

  private AutoGLMProvider(Duration shutdownTimeout, Optional<String> servedName) {
    this.shutdownTimeout = Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
    this.registry = new ModelRegistry(shutdownTimeout);
    this.first = new CompletableFuture<>();
    this.servedName = servedName;
  }

  /** Loads on a daemon thread named {@code autoglm-loader-default}; the application starts meanwhile. */
  public static AutoGLMProvider loadInBackground(Supplier<AutoGLM> loader, Duration shutdownTimeout) {
    return loadInBackground(loader, shutdownTimeout, null);
  }

  /** As {@link #loadInBackground(Supplier, Duration)}, clients naming the model {@code servedName} too. */
  public static AutoGLMProvider loadInBackground(Supplier<AutoGLM> loader, Duration shutdownTimeout,
      String servedName) {
    AutoGLMProvider p = new AutoGLMProvider(shutdownTimeout, Optional.ofNullable(servedName));
    ModelRegistry.Swap swap = p.registry.load(NAME, Objects.requireNonNullElse(servedName, "(loading)"), loader, true);
    swap.serving().whenComplete((glm, e) -> {
      if (e != null) {
        p.first.completeExceptionally(e);
      } else {
        p.first(glm);
      }
    });
    return p;
  }

  /** Loads now, on the calling thread; a failure is thrown. */
  public static AutoGLMProvider loadNow(Supplier<AutoGLM> loader, Duration shutdownTimeout) {
    return serve(loader.get(), true, shutdownTimeout, null);
  }

  /** As {@link #loadNow(Supplier, Duration)}, clients naming the model {@code servedName} too. */
  public static AutoGLMProvider loadNow(Supplier<AutoGLM> loader, Duration shutdownTimeout, String servedName) {
    return serve(loader.get(), true, shutdownTimeout, servedName);
  }

  /** Serves an engine someone else built and closes. */
  public static AutoGLMProvider of(AutoGLM glm, Duration shutdownTimeout) {
    return serve(glm, false, shutdownTimeout, null);
  }

  private static AutoGLMProvider serve(AutoGLM glm, boolean owned, Duration shutdownTimeout, String servedName) {
    AutoGLMProvider p = new AutoGLMProvider(shutdownTimeout, Optional.ofNullable(servedName));
    p.registry.register(NAME, glm, owned);
    p.first(glm);
    return p;
  }

  private void first(AutoGLM glm) {
    if (servedName.isEmpty()) {
      servedName = Optional.ofNullable(glm.modelId()); // the first model's id stays a name for the served model
    }
    first.complete(glm);
  }

  public State state() {
    if (closed) {
      return State.CLOSED;
    }
    if (draining) {
      return State.DRAINING;
    }
    if (registry.current(NAME).isPresent()) {
      return State.READY;
    }
    return first.isDone() ? State.FAILED : State.LOADING;
  }

  /** The engine serving now, once READY (also while DRAINING, for in-flight requests and monitoring). */
  public Optional<AutoGLM> get() {
    return closed ? Optional.empty() : registry.current(NAME);
  }

  /**
   * A hold on the serving engine for one exchange: a swap does not close it until the lease is closed.
   *
   * @throws IllegalStateException when no engine is READY (the state says why)
   */
  public ModelRegistry.Lease lease() {
    if (draining || closed) {
      throw new IllegalStateException("the server is shutting down");
    }
    try {
      return registry.lease(NAME);
    } catch (NoSuchElementException e) {
      throw new IllegalStateException("no model is ready: " + state(), e);
    }
  }

  /**
   * Loads another engine beside the serving one and switches to it once ready; see {@link ModelRegistry#load}.
   *
   * @param announcedId the id shown in health and /v1/models while it loads
   * @throws IllegalStateException while the first load or another swap runs, or at shutdown
   */
  public ModelRegistry.Swap swap(String announcedId, Supplier<AutoGLM> loader) {
    if (draining || closed) {
      throw new IllegalStateException("the server is shutting down; no swap");
    }
    if (!first.isDone()) {
      throw new IllegalStateException("the first model is still loading; swap once it is READY");
    }
    return registry.load(NAME, announcedId, loader, true);
  }

  /** Every instance: serving, loading, draining, and a failed load. */
  public List<ModelRegistry.Status> models() {
    return registry.status();
  }

  /** The name clients may use besides the serving instance's id: autoglm.served-model-name, else the first id. */
  public Optional<String> servedName() {
    return servedName;
  }

  /** Why loading failed, when the first load did and nothing serves. */
  public Optional<Throwable> failure() {
    if (!first.isCompletedExceptionally() || registry.current(NAME).isPresent()) {
      return Optional.empty();
    }
    try {
      first.join();
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
      first.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return registry.current(NAME).orElseThrow(() -> new IllegalStateException("the server shut down"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the model to load", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("the model failed to load: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("the model did not load within " + timeout, e);
    }
  }

  /** Stops admitting requests, waits (up to the shutdown timeout) for in-flight ones, then closes owned engines. */
  @Override
  public void destroy() {
    draining = true;
    get().ifPresent(this::drain);
    registry.close();
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

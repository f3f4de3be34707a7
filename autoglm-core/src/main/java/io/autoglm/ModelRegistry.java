package io.autoglm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named models with hot swap: {@link #load} builds a new instance beside the serving one, switches new requests to
 * it atomically once it is ready, lets the old one finish what it holds (up to the drain timeout), then closes it,
 * so memory returns to one model's worth. A load that fails leaves the serving instance serving.
 *
 * <p>Requests go through a {@link Lease} ({@link #lease}, or {@link #submit}, which leases for the request's
 * life). A lease taken before the switch keeps the old instance open; one taken after gets the new one. No request
 * ever sees a closed instance: the instance is retired first and closed only when its last lease ends.
 */
public final class ModelRegistry implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ModelRegistry.class);

  private final Duration drainTimeout;
  private final Map<String, RegistrySlot> slots = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** @param drainTimeout how long a replaced instance may finish its requests before it is closed anyway */
  public ModelRegistry(Duration drainTimeout) {
    Objects.requireNonNull(drainTimeout, "drainTimeout must not be null");
    if (drainTimeout.isNegative()) {
      throw new IllegalArgumentException("drainTimeout (" + drainTimeout + ") must be >= 0");
    }
    this.drainTimeout = drainTimeout;
  }

  /** What {@link #load} started: when the new instance serves, and when the one it replaced is closed. */
  public record Swap(CompletableFuture<AutoGLM> serving, CompletableFuture<Void> previousClosed) {}

  /**
   * Loads {@code loader} on a daemon thread ({@code autoglm-loader-NAME}) and, once it returns, makes it the instance
   * serving {@code name}. A failed load completes {@code serving} exceptionally and changes nothing else.
   *
   * @param announcedId the id shown for the instance while it loads (its real id replaces it once loaded)
   * @param owned whether the registry closes the instance when it is replaced or the registry closes
   * @throws IllegalStateException when a load under {@code name} is already running, or the registry is closed
   */
  public Swap load(String name, String announcedId, Supplier<AutoGLM> loader, boolean owned) {
    Objects.requireNonNull(loader, "loader must not be null");
    RegistrySlot slot = slot(name);
    RegistrySlot.Loading loading = new RegistrySlot.Loading(Objects.requireNonNull(announcedId, "announcedId must not be null"));
    synchronized (slot) {
      if (closed) {
        throw new IllegalStateException("the registry is closed");
      }
      if (slot.loading != null) {
        throw new IllegalStateException(String.format("a load under '%s' (%s) is already running; wait for it to end",
            name, slot.loading.announcedId()));
      }
      slot.loading = loading;
      slot.failure = null;
    }
    Swap swap = new Swap(new CompletableFuture<>(), new CompletableFuture<>());
    Thread t = new Thread(() -> runLoad(name, slot, loading, loader, owned, swap), "autoglm-loader-" + name);
    t.setDaemon(true);
    t.start();
    return swap;
  }

  private void runLoad(String name, RegistrySlot slot, RegistrySlot.Loading loading, Supplier<AutoGLM> loader, boolean owned, Swap swap) {
    long start = System.nanoTime();
    AutoGLM glm;
    try {
      glm = Objects.requireNonNull(loader.get(), "loader returned null");
    } catch (RuntimeException | Error e) {
      LOG.error("loading '{}' ({}) failed; the serving instance goes on: {}", name, loading.announcedId(), e.toString(),
          e);
      synchronized (slot) {
        slot.loading = null;
        slot.failure = new RegistrySlot.Failure(loading.announcedId(), e.toString());
      }
      swap.previousClosed().complete(null);
      swap.serving().completeExceptionally(e);
      return;
    }
    ModelInstance previous;
    synchronized (slot) {
      if (closed) {
        slot.loading = null;
        swap.previousClosed().complete(null);
        swap.serving().completeExceptionally(new IllegalStateException("the registry closed while " + name
            + " loaded"));
        if (owned) {
          glm.close();
        }
        return;
      }
      previous = slot.active;
      slot.active = new ModelInstance(glm, owned); // from here new leases get the new instance
      slot.loading = null;
      if (previous != null) {
        slot.draining.add(previous);
      }
    }
    LOG.info("'{}' now serves {} (loaded in {} ms){}", name, glm.modelId(), (System.nanoTime() - start) / 1_000_000,
        previous == null ? "" : "; draining " + previous.glm.modelId());
    swap.serving().complete(glm);
    if (previous == null) {
      swap.previousClosed().complete(null);
    } else {
      retire(slot, previous);
      swap.previousClosed().complete(null);
    }
  }

  /**
   * Makes {@code glm} serve {@code name} now. An instance it replaces is drained and (when owned) closed before this
   * returns, so the call may wait up to the drain timeout.
   */
  public void register(String name, AutoGLM glm, boolean owned) {
    Objects.requireNonNull(glm, "glm must not be null");
    RegistrySlot slot = slot(name);
    ModelInstance previous;
    synchronized (slot) {
      if (closed) {
        throw new IllegalStateException("the registry is closed");
      }
      previous = slot.active;
      slot.active = new ModelInstance(glm, owned);
      if (previous != null) {
        slot.draining.add(previous);
      }
    }
    if (previous != null) {
      retire(slot, previous);
    }
  }

  /** Retires an instance no longer serving, waits for its leases (up to the drain timeout), then closes it. */
  private void retire(RegistrySlot slot, ModelInstance old) {
    old.drainAndClose(drainTimeout);
    synchronized (slot) {
      slot.draining.remove(old);
    }
  }

  /**
   * A hold on the instance serving {@code name} now.
   *
   * @throws NoSuchElementException when nothing serves {@code name} (yet)
   */
  public Lease lease(String name) {
    RegistrySlot slot = slots.get(Objects.requireNonNull(name, "name must not be null"));
    while (true) {
      ModelInstance instance = slot == null ? null : slot.active;
      if (instance == null) {
        throw new NoSuchElementException("no model serves '" + name + "'" + (slot != null && slot.loading != null
            ? " yet: " + slot.loading.announcedId() + " is loading" : "") + "; serving: " + servingNames());
      }
      if (instance.tryAcquire()) {
        return new Lease(instance);
      }
      // retired between the read and the acquire: the slot already holds its successor
    }
  }

  /** Submits through a lease held until the request ends; see {@link AutoGLM#submit(TextRequest)}. */
  public GenerationHandle submit(String name, TextRequest request) {
    Lease lease = lease(name);
    try {
      GenerationHandle handle = lease.model().submit(request);
      lease.closeWhenDone(List.of(handle.result()));
      return handle;
    } catch (RuntimeException | Error e) {
      lease.close();
      throw e;
    }
  }

  /** The instance serving {@code name} now, without holding it (monitoring; use {@link #lease} for requests). */
  public Optional<AutoGLM> current(String name) {
    RegistrySlot slot = slots.get(name);
    ModelInstance active = slot == null ? null : slot.active;
    return Optional.ofNullable(active).map(i -> i.glm);
  }

  /** Whether a load under {@code name} is running. */
  public boolean isLoading(String name) {
    RegistrySlot slot = slots.get(name);
    return slot != null && slot.loading != null;
  }

  /** Every instance: serving, loading, draining, and the last failed load of each name. */
  public List<Status> status() {
    List<Status> out = new ArrayList<>();
    slots.forEach((name, slot) -> slot.addStatus(name, out));
    return out;
  }

  private List<String> servingNames() {
    return slots.entrySet().stream().filter(e -> e.getValue().active != null).map(Map.Entry::getKey).sorted()
        .toList();
  }

  private RegistrySlot slot(String name) {
    Objects.requireNonNull(name, "name must not be null");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name must not be blank");
    }
    return slots.computeIfAbsent(name, n -> new RegistrySlot());
  }

  /**
   * Retires every serving instance, drains it (up to the drain timeout each) and closes the owned ones; a load still
   * running closes what it loads. Later loads and registrations are refused.
   */
  @Override
  public void close() {
    closed = true;
    slots.forEach((name, slot) -> {
      ModelInstance active;
      synchronized (slot) {
        active = slot.active;
        slot.active = null;
        if (active != null) {
          slot.draining.add(active);
        }
      }
      if (active != null) {
        retire(slot, active);
      }
    });
  }

  /**
   * One model instance the registry knows of, for {@code /v1/models} and health.
   *
   * @param name the registry name requests use
   * @param modelId the instance's own id ({@link AutoGLM#modelId()}; while loading, the id it was announced with)
   * @param state where the instance is
   * @param inFlight requests leased on it now
   * @param error why the last load under this name failed (state {@link State#FAILED})
   */
  public record Status(String name, String modelId, State state, int inFlight, Optional<String> error) {
    /** The life of one instance under a name: LOADING beside the serving one, SERVING new requests, DRAINING the
     * requests it holds once replaced, or FAILED (the last load; the serving instance, if any, goes on). */
    public enum State { LOADING, SERVING, DRAINING, FAILED }
  }

  /**
   * A hold on the instance serving a name: while any lease on it is open, a swap does not close it. Close it once
   * the requests submitted through it have ended (or {@link #closeWhenDone}); closing twice has no further effect.
   */
  public static final class Lease implements AutoCloseable {
    private final ModelInstance instance;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    Lease(ModelInstance instance) {
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
}

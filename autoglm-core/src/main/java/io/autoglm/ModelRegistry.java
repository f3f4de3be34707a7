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
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named models with hot swap: {@link #load} builds a new instance beside the serving one, switches new requests to
 * it atomically once it is ready, lets the old one finish what it holds (up to the drain timeout), then closes it,
 * so memory returns to one model's worth. A load that fails leaves the serving instance serving.
 *
 * <p>Requests go through a {@link ModelLease} ({@link #lease}, or {@link #submit}, which leases for the request's
 * life). A lease taken before the switch keeps the old instance open; one taken after gets the new one. No request
 * ever sees a closed instance: the instance is retired first and closed only when its last lease ends.
 */
public final class ModelRegistry implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ModelRegistry.class);

  private final Duration drainTimeout;
  private final Map<String, Slot> slots = new ConcurrentHashMap<>();
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
    Slot slot = slot(name);
    Loading loading = new Loading(Objects.requireNonNull(announcedId, "announcedId must not be null"));
    synchronized (slot) {
      if (closed) {
        throw new IllegalStateException("the registry is closed");
      }
      if (slot.loading != null) {
        throw new IllegalStateException(String.format("a load under '%s' (%s) is already running; wait for it to end",
            name, slot.loading.announcedId));
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

  private void runLoad(String name, Slot slot, Loading loading, Supplier<AutoGLM> loader, boolean owned, Swap swap) {
    long start = System.nanoTime();
    AutoGLM glm;
    try {
      glm = Objects.requireNonNull(loader.get(), "loader returned null");
    } catch (RuntimeException | Error e) {
      LOG.error("loading '{}' ({}) failed; the serving instance goes on: {}", name, loading.announcedId, e.toString(),
          e);
      synchronized (slot) {
        slot.loading = null;
        slot.failure = new Failure(loading.announcedId, e.toString());
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
    Slot slot = slot(name);
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
  private void retire(Slot slot, ModelInstance old) {
    old.retire();
    try {
      old.drained.get(drainTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      LOG.warn("{} still holds {} requests after the drain timeout {}; closing it cancels them", old.glm.modelId(),
          old.inFlight.get(), drainTimeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e);
    }
    if (old.owned) {
      old.glm.close();
    }
    synchronized (slot) {
      slot.draining.remove(old);
    }
    LOG.info("closed {} after draining", old.glm.modelId());
  }

  /**
   * A hold on the instance serving {@code name} now.
   *
   * @throws NoSuchElementException when nothing serves {@code name} (yet)
   */
  public ModelLease lease(String name) {
    Slot slot = slots.get(Objects.requireNonNull(name, "name must not be null"));
    while (true) {
      ModelInstance instance = slot == null ? null : slot.active;
      if (instance == null) {
        throw new NoSuchElementException("no model serves '" + name + "'" + (slot != null && slot.loading != null
            ? " yet: " + slot.loading.announcedId + " is loading" : "") + "; serving: " + servingNames());
      }
      if (instance.tryAcquire()) {
        return new ModelLease(instance);
      }
      // retired between the read and the acquire: the slot already holds its successor
    }
  }

  /** Submits through a lease held until the request ends; see {@link AutoGLM#submit(TextRequest)}. */
  public GenerationHandle submit(String name, TextRequest request) {
    ModelLease lease = lease(name);
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
    Slot slot = slots.get(name);
    ModelInstance active = slot == null ? null : slot.active;
    return Optional.ofNullable(active).map(i -> i.glm);
  }

  /** Whether a load under {@code name} is running. */
  public boolean isLoading(String name) {
    Slot slot = slots.get(name);
    return slot != null && slot.loading != null;
  }

  /** Every instance: serving, loading, draining, and the last failed load of each name. */
  public List<ModelStatus> status() {
    List<ModelStatus> out = new ArrayList<>();
    slots.forEach((name, slot) -> {
      synchronized (slot) {
        if (slot.active != null) {
          out.add(slot.active.status(name, ModelStatus.State.SERVING));
        }
        if (slot.loading != null) {
          out.add(new ModelStatus(name, slot.loading.announcedId, ModelStatus.State.LOADING, 0, Optional.empty()));
        }
        slot.draining.forEach(d -> out.add(d.status(name, ModelStatus.State.DRAINING)));
        if (slot.failure != null) {
          out.add(new ModelStatus(name, slot.failure.announcedId, ModelStatus.State.FAILED, 0,
              Optional.of(slot.failure.error)));
        }
      }
    });
    return out;
  }

  private List<String> servingNames() {
    return slots.entrySet().stream().filter(e -> e.getValue().active != null).map(Map.Entry::getKey).sorted()
        .toList();
  }

  private Slot slot(String name) {
    Objects.requireNonNull(name, "name must not be null");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name must not be blank");
    }
    return slots.computeIfAbsent(name, n -> new Slot());
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

  /** One name: the serving instance, a load in progress, the instances draining, the last failure. */
  private static final class Slot {
    volatile ModelInstance active;
    volatile Loading loading; // guarded by this for writes
    Failure failure; // guarded by this
    final List<ModelInstance> draining = new ArrayList<>(); // guarded by this
  }

  private record Loading(String announcedId) {}

  private record Failure(String announcedId, String error) {}
}

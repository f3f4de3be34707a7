package io.autoglm;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** One name of a {@link ModelRegistry}: the serving instance, a load in progress, the instances draining, the last failure. */
final class RegistrySlot {
  volatile ModelInstance active;
  volatile Loading loading; // guarded by this for writes
  Failure failure; // guarded by this
  final List<ModelInstance> draining = new ArrayList<>(); // guarded by this

  record Loading(String announcedId) {}

  record Failure(String announcedId, String error) {}

  /** Adds this name's instances to {@code out}: serving, loading, draining, and the last failed load. */
  synchronized void addStatus(String name, List<ModelRegistry.Status> out) {
    if (active != null) {
      out.add(active.status(name, ModelRegistry.Status.State.SERVING));
    }
    if (loading != null) {
      out.add(new ModelRegistry.Status(name, loading.announcedId(), ModelRegistry.Status.State.LOADING, 0,
          Optional.empty()));
    }
    draining.forEach(d -> out.add(d.status(name, ModelRegistry.Status.State.DRAINING)));
    if (failure != null) {
      out.add(new ModelRegistry.Status(name, failure.announcedId(), ModelRegistry.Status.State.FAILED, 0,
          Optional.of(failure.error())));
    }
  }
}

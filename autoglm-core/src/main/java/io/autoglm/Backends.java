package io.autoglm;

import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.sched.EngineObserver;
import io.autoglm.sched.Sequence;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.Spis;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/** What {@link ModelLoader} finds by name or by {@link ServiceLoader}: the compute backend and the SPIs. */
final class Backends {
  private Backends() {}

  /** The named backend, else the available one with the highest priority. */
  static ComputeBackendProvider provider(Optional<String> name) {
    List<ComputeBackendProvider> all = new ArrayList<>();
    ServiceLoader.load(ComputeBackendProvider.class, AutoGLM.class.getClassLoader()).forEach(all::add);
    if (name.isPresent()) {
      ComputeBackendProvider p = all.stream().filter(x -> x.name().equals(name.get())).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("backend " + name.get() + " is not on the classpath; found "
              + all.stream().map(ComputeBackendProvider::name).toList()));
      if (!p.isAvailable()) {
        throw new IllegalStateException("backend " + name.get() + " is not available: " + p.unavailableReason());
      }
      return p;
    }
    return all.stream().filter(ComputeBackendProvider::isAvailable)
        .max(Comparator.comparingInt(ComputeBackendProvider::priority))
        .orElseThrow(() -> new IllegalStateException("no compute backend is available; found "
            + all.stream().map(ComputeBackendProvider::name).toList()));
  }

  /** The SPIs given, else those ServiceLoader finds, else the defaults (none, unlimited, none). */
  static Requests.Hooks hooks(EngineConfig c, ConfigBuilder.Plugins p) {
    String id = c.effectiveModelId();
    EngineMetrics m = p.metrics()
        .or(() -> p.meterRegistry().map(r -> EngineMetrics.micrometer(r, id)))
        .orElseGet(() -> Spis.load(EngineMetrics.class, EngineMetrics.none()));
    return new Requests.Hooks(id,
        p.responseCache().orElseGet(() -> Spis.load(ResponseCache.class, ResponseCache.none())),
        p.rateLimiter().orElseGet(() -> Spis.load(RateLimiter.class, RateLimiter.unlimited())),
        m.forModel(id), c.logPrompts());
  }

  static EngineObserver observer(EngineMetrics metrics) {
    if (metrics == EngineMetrics.none()) {
      return EngineObserver.none();
    }
    return new EngineObserver() {
      @Override
      public void onStep(int running, int waiting, double kvUsage, int batchTokens) {
        metrics.onStep(running, waiting, kvUsage, batchTokens);
      }

      @Override
      public void onPreemption(Sequence seq) {
        metrics.onPreemption();
      }

      @Override
      public void onAdmitted(Sequence seq, int cachedTokens) {
        metrics.onPrefixCacheLookup(cachedTokens, seq.promptLength());
      }
    };
  }
}

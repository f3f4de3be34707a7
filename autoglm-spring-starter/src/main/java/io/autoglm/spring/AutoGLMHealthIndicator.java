package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The engine's health: UP once loaded, OUT_OF_SERVICE while loading or shutting down, DOWN when loading failed.
 * Detail {@code models} lists every instance (during a hot swap: the serving one and the one loading, then the one
 * draining; a failed swap shows as FAILED beside the serving one, which stays UP).
 * Registered as {@code autoglm}; {@link ReadinessGroupMembership} adds it to the readiness group.
 */
public final class AutoGLMHealthIndicator implements HealthIndicator {
  private final AutoGLMProvider provider;

  public AutoGLMHealthIndicator(AutoGLMProvider provider) {
    this.provider = provider;
  }

  @Override
  public Health health() {
    AutoGLMProvider.State state = provider.state();
    return switch (state) {
      case READY -> up(provider.get().orElseThrow());
      case LOADING, DRAINING, CLOSED -> Health.outOfService().withDetail("state", state.name())
          .withDetail("models", models(provider)).build();
      case FAILED -> Health.down().withDetail("state", state.name())
          .withDetail("error", provider.failure().map(Throwable::toString).orElse("unknown"))
          .withDetail("models", models(provider)).build();
    };
  }

  /** Each instance as {@code {id, state, inFlight[, error]}}. */
  static List<Map<String, Object>> models(AutoGLMProvider provider) {
    return provider.models().stream().map(m -> {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("id", m.modelId());
      d.put("state", m.state().name());
      d.put("inFlight", m.inFlight());
      m.error().ifPresent(e -> d.put("error", e));
      return d;
    }).toList();
  }

  private Health up(AutoGLM glm) {
    EngineStats s = glm.stats();
    return Health.up()
        .withDetail("models", models(provider))
        .withDetail("state", AutoGLMProvider.State.READY.name())
        .withDetail("model", glm.modelId())
        .withDetail("backend", glm.backendName())
        .withDetail("running", s.running())
        .withDetail("waiting", s.waiting())
        .withDetail("kvUsage", s.kvUsage())
        .build();
  }
}

package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The engine's health: UP once loaded, OUT_OF_SERVICE while loading or shutting down, DOWN when loading failed.
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
      case LOADING, DRAINING, CLOSED -> Health.outOfService().withDetail("state", state.name()).build();
      case FAILED -> Health.down().withDetail("state", state.name())
          .withDetail("error", provider.failure().map(Throwable::toString).orElse("unknown")).build();
    };
  }

  private static Health up(AutoGLM glm) {
    EngineStats s = glm.stats();
    return Health.up()
        .withDetail("state", AutoGLMProvider.State.READY.name())
        .withDetail("model", glm.modelId())
        .withDetail("backend", glm.backendName())
        .withDetail("running", s.running())
        .withDetail("waiting", s.waiting())
        .withDetail("kvUsage", s.kvUsage())
        .build();
  }
}

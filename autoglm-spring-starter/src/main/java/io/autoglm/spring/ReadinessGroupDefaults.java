package io.autoglm.spring;

import java.util.Map;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * When {@code autoglm.model-path} is set, adds lowest-precedence defaults that put the {@code autoglm} health
 * indicator in the readiness group beside {@code readinessState} (and turn the probe groups on), so a load balancer
 * sends no traffic while the model loads. Any property the application sets wins.
 */
public final class ReadinessGroupDefaults implements EnvironmentPostProcessor {
  static final String SOURCE = "autoglmReadinessDefaults";

  @Override
  public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
    if (!environment.containsProperty("autoglm.model-path")
        || !environment.getProperty("management.health.autoglm.enabled", Boolean.class, true)) {
      return;
    }
    environment.getPropertySources().addLast(new MapPropertySource(SOURCE, Map.of(
        "management.endpoint.health.probes.enabled", "true",
        "management.endpoint.health.group.readiness.include", "readinessState,autoglm")));
  }
}

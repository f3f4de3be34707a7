package io.autoglm.spring;

import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.actuate.endpoint.HealthEndpointGroupsPostProcessor;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Actuator support: the {@code autoglm} health indicator (also in the readiness group) and the {@code autoglm}
 * endpoint. The engine's meters go
 * to the application's {@code MeterRegistry} through {@link AutoGLMAutoConfiguration}.
 */
@AutoConfiguration(after = AutoGLMAutoConfiguration.class, afterName =
    "org.springframework.boot.health.autoconfigure.actuate.endpoint.AvailabilityProbesAutoConfiguration")
@ConditionalOnBean(AutoGLMProvider.class)
public class AutoGLMActuatorAutoConfiguration {

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({HealthIndicator.class, HealthEndpointGroupsPostProcessor.class})
  static class Health {
    @Bean
    @ConditionalOnMissingBean(name = "autoglmHealthIndicator")
    @ConditionalOnEnabledHealthIndicator("autoglm")
    AutoGLMHealthIndicator autoglmHealthIndicator(AutoGLMProvider provider) {
      return new AutoGLMHealthIndicator(provider);
    }

    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnEnabledHealthIndicator("autoglm")
    ReadinessGroupMembership autoglmReadinessGroupMembership() {
      return new ReadinessGroupMembership();
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({Endpoint.class, ConditionalOnAvailableEndpoint.class})
  static class EndpointConfiguration {
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnAvailableEndpoint
    AutoGLMEndpoint autoglmEndpoint(AutoGLMProvider provider, AutoGLMProperties properties,
        org.springframework.beans.factory.ObjectProvider<AutoGLMFactory> factory) {
      return new AutoGLMEndpoint(provider, properties, java.util.Optional.ofNullable(factory.getIfUnique()));
    }
  }
}

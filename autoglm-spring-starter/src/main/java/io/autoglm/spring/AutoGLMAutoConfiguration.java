package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Import;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * The engine from {@code autoglm.*}: an {@link AutoGLMProvider} that loads the model (in the background by default)
 * with the configured response cache and rate limiter, reporting to the application's {@code MeterRegistry}; and
 * the {@link AutoGLM} itself as a lazy bean. A user's {@code AutoGLM} bean is served instead; a user's
 * {@code AutoGLMProvider}, {@code RateLimiter} or {@code ResponseCache} bean replaces the starter's. Without
 * {@code autoglm.model-path} (and no user engine) the starter backs off.
 */
@AutoConfiguration
@ConditionalOnClass(AutoGLM.class)
@EnableConfigurationProperties(AutoGLMProperties.class)
@Import({EngineConfigurations.Provided.class, EngineConfigurations.FromProperties.class})
public class AutoGLMAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean
  @Conditional(RateLimitConfigured.class)
  RateLimiter autoglmRateLimiter(AutoGLMProperties properties) {
    return properties.rateLimit().toRateLimiter().orElseThrow();
  }

  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBooleanProperty("autoglm.cache.enabled")
  ResponseCache autoglmResponseCache(AutoGLMProperties properties) {
    return properties.cache().toResponseCache().orElseThrow();
  }

  /** Any {@code autoglm.rate-limit.*} property is set. */
  static final class RateLimitConfigured extends SpringBootCondition {
    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
      boolean set = Binder.get(context.getEnvironment())
          .bind("autoglm.rate-limit", Bindable.mapOf(String.class, String.class)).isBound();
      return set ? ConditionOutcome.match("autoglm.rate-limit.* is set")
          : ConditionOutcome.noMatch("no autoglm.rate-limit.* property is set");
    }
  }
}

package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;

/** The two ways to an {@link AutoGLMProvider}, imported in this order: a user's engine wins over the properties. */
final class EngineConfigurations {
  private EngineConfigurations() {}

  /** Serves the application's own {@link AutoGLM} bean; its owner closes it, the provider only drains it. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnBean(AutoGLM.class)
  @ConditionalOnMissingBean(AutoGLMProvider.class)
  static class Provided {
    @Bean
    @ConditionalOnMissingBean
    AutoGLMProvider autoGLMProvider(AutoGLM glm, AutoGLMProperties properties) {
      return AutoGLMProvider.of(glm, properties.shutdownTimeout());
    }
  }

  /** Loads {@code autoglm.model-path}; the provider owns the engine and closes it after draining. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnMissingBean({AutoGLM.class, AutoGLMProvider.class})
  @ConditionalOnProperty(prefix = "autoglm", name = "model-path")
  static class FromProperties {
    /** Engines as the starter builds them: the first one, and any a hot swap loads. */
    @Bean
    @ConditionalOnMissingBean
    AutoGLMFactory autoGLMFactory(AutoGLMProperties properties, ObjectProvider<RateLimiter> rateLimiter,
        ObjectProvider<ResponseCache> responseCache, ObjectProvider<EngineMetrics> metrics,
        ObjectProvider<MeterRegistry> meterRegistry, ObjectProvider<AutoGLMBuilderCustomizer> customizers) {
      return (path, id, tokenizer) -> {
        AutoGLM.Builder builder = properties.toBuilder(path, id,
            tokenizer != null ? tokenizer : properties.tokenizerPath());
        rateLimiter.ifAvailable(builder::rateLimiter);
        responseCache.ifAvailable(builder::responseCache);
        EngineMetrics m = metrics.getIfUnique();
        if (m != null) {
          builder.metrics(m);
        } else {
          meterRegistry.ifUnique(builder::meterRegistry);
        }
        customizers.orderedStream().forEach(c -> c.customize(builder));
        return builder.build();
      };
    }

    @Bean
    @ConditionalOnMissingBean
    AutoGLMProvider autoGLMProvider(AutoGLMProperties properties, AutoGLMFactory factory) {
      if (properties.modelPath() == null) {
        throw new IllegalStateException("autoglm.model-path is not set");
      }
      java.util.function.Supplier<AutoGLM> first = () -> factory.create(properties.modelPath(),
          properties.modelId(), properties.tokenizerPath());
      return properties.loadAsync()
          ? AutoGLMProvider.loadInBackground(first, properties.shutdownTimeout(), properties.servedModelName())
          : AutoGLMProvider.loadNow(first, properties.shutdownTimeout(), properties.servedModelName());
    }

    /** The engine, for injection: waits for loading (inject {@link AutoGLMProvider} to not wait). */
    @Bean(destroyMethod = "") // the provider closes it, after draining
    @Lazy
    @ConditionalOnMissingBean
    AutoGLM autoGLM(AutoGLMProvider provider) {
      return provider.await(Duration.ofDays(1));
    }
  }
}

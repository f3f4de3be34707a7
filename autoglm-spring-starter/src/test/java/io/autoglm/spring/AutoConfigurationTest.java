package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * What the auto-configuration defines, and when it backs off: no model path, user beans, non-servlet
 * applications, {@code autoglm.server.enabled=false}. The model path here does not exist, so the background load
 * fails fast and nothing real is loaded.
 */
class AutoConfigurationTest {
  private static final AutoConfigurations STARTER = AutoConfigurations.of(AutoGLMAutoConfiguration.class,
      AutoGLMWebAutoConfiguration.class, AutoGLMActuatorAutoConfiguration.class,
      HealthContributorAutoConfiguration.class);
  private static final String MISSING_MODEL = "autoglm.model-path=target/no-such-model";

  private final WebApplicationContextRunner web = new WebApplicationContextRunner().withConfiguration(STARTER);

  @Test
  void backsOffWithoutAModelPath() {
    web.run(ctx -> {
      assertThat(ctx).hasNotFailed();
      assertThat(ctx).doesNotHaveBean(AutoGLMProvider.class);
      assertThat(ctx).doesNotHaveBean(AutoGLM.class);
      assertThat(ctx).doesNotHaveBean("autoglmOpenAiRoutes");
      assertThat(ctx).doesNotHaveBean(AutoGLMHealthIndicator.class);
      assertThat(ctx).doesNotHaveBean(RateLimiter.class);
      assertThat(ctx).doesNotHaveBean(ResponseCache.class);
    });
  }

  @Test
  void aModelPathGivesTheProviderRoutesAndHealth() {
    web.withPropertyValues(MISSING_MODEL).run(ctx -> {
      assertThat(ctx).hasSingleBean(AutoGLMProvider.class);
      assertThat(ctx).hasBean("autoglmOpenAiRoutes");
      assertThat(ctx).hasSingleBean(AutoGLMHealthIndicator.class);
      assertThat(ctx).hasSingleBean(ReadinessGroupMembership.class);
      assertThat(ctx).doesNotHaveBean(RateLimiter.class); // no limits configured: the engine's default
      AutoGLMProvider provider = ctx.getBean(AutoGLMProvider.class);
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> provider.state() == AutoGLMProvider.State.FAILED);
      assertThat(provider.failure()).get().asString().contains("no-such-model");
    });
  }

  @Test
  void propertiesBindAndConfigureCacheAndLimits() {
    web.withPropertyValues(MISSING_MODEL, "autoglm.cache.enabled=true", "autoglm.cache.max-size=1MB",
        "autoglm.rate-limit.requests-per-minute=60", "autoglm.max-running-sequences=8", "autoglm.api-keys=a,b",
        "autoglm.server.max-choices=2").run(ctx -> {
          assertThat(ctx).hasSingleBean(RateLimiter.class);
          assertThat(ctx).hasSingleBean(ResponseCache.class);
          AutoGLMProperties p = ctx.getBean(AutoGLMProperties.class);
          assertThat(p.maxRunningSequences()).isEqualTo(8);
          assertThat(p.apiKeys()).containsExactly("a", "b");
          assertThat(p.cache().maxSize().toBytes()).isEqualTo(1 << 20);
          assertThat(p.rateLimit().requestsPerMinute()).isEqualTo(60);
          assertThat(p.server().maxChoices()).isEqualTo(2);
          assertThat(p.server().defaultTemperature()).isEqualTo(1.0);
          assertThat(p.server().defaultMaxTokens()).isEqualTo(4096);
          assertThat(p.server().maxRequestBody().toBytes()).isEqualTo(4L << 20);
          assertThat(p.server().protectActuator()).isNull();
          assertThat(p.server().disconnectCheckInterval()).isEqualTo(Duration.ofSeconds(1));
          assertThat(p.shutdownTimeout()).isEqualTo(Duration.ofSeconds(30));
        });
  }

  @Test
  void quantizationKvCacheDtypeAndBackendPropertiesReachTheEngineConfig() {
    web.withPropertyValues(MISSING_MODEL, "autoglm.quantization=fp8", "autoglm.kv-cache-dtype=fp8",
        "autoglm.backend-properties[cuda.maxGraphs]=8").run(ctx -> {
          AutoGLMProperties p = ctx.getBean(AutoGLMProperties.class);
          assertThat(p.toBuilder().config().backendProperties()).isEqualTo(java.util.Map.of(
              "autoglm.quantization", "fp8", "autoglm.kvCacheDtype", "fp8", "cuda.maxGraphs", "8"));
        });
    web.withPropertyValues(MISSING_MODEL, "autoglm.kv-cache-dtype=int4").run(ctx ->
        assertThat(ctx).getFailure().rootCause()
            .hasMessageContaining("autoglm.kv-cache-dtype (int4) must be one of [auto, fp8]"));
    web.withPropertyValues(MISSING_MODEL, "autoglm.quantization=int4").run(ctx ->
        assertThat(ctx).getFailure().rootCause()
            .hasMessageContaining("autoglm.quantization (int4) must be one of [fp8, int8]"));
  }

  @Test
  void badPropertiesFailStartupNamingThem() {
    web.withPropertyValues(MISSING_MODEL, "autoglm.server.max-choices=0").run(ctx ->
        assertThat(ctx).getFailure().rootCause().hasMessageContaining("autoglm.server.max-choices (0)"));
    web.withPropertyValues(MISSING_MODEL, "autoglm.server.default-max-tokens=0").run(ctx ->
        assertThat(ctx).getFailure().rootCause().hasMessageContaining("autoglm.server.default-max-tokens (0)"));
    web.withPropertyValues(MISSING_MODEL, "autoglm.server.max-request-body=0B").run(ctx ->
        assertThat(ctx).getFailure().rootCause().hasMessageContaining("autoglm.server.max-request-body (0B)"));
    web.withPropertyValues(MISSING_MODEL, "autoglm.server.disconnect-check-interval=-1s").run(ctx ->
        assertThat(ctx).getFailure().rootCause()
            .hasMessageContaining("autoglm.server.disconnect-check-interval (PT-1S)"));
  }

  @Test
  void userBeansWin() {
    web.withPropertyValues(MISSING_MODEL, "autoglm.cache.enabled=true", "autoglm.rate-limit.requests-per-minute=60")
        .withUserConfiguration(UserBeans.class).run(ctx -> {
          assertThat(ctx.getBean(RateLimiter.class)).isSameAs(UserBeans.LIMITER);
          assertThat(ctx.getBean(ResponseCache.class)).isSameAs(UserBeans.CACHE);
          assertThat(ctx.getBean(AutoGLMProvider.class)).isSameAs(UserBeans.PROVIDER);
          assertThat(ctx.getBean("autoglmOpenAiRoutes")).isSameAs(UserBeans.ROUTES);
          assertThat(ctx).hasSingleBean(AutoGLMHealthIndicator.class);
        });
  }

  @Test
  void aUserEngineIsServedDrainedAndLeftToItsOwnerToClose() {
    AutoGLM glm = mock(AutoGLM.class);
    Mockito.when(glm.stats()).thenReturn(new EngineStats(0, 0, 0, 16, 16, 256, 0, 0, 0, 0));
    web.withBean(AutoGLM.class, () -> glm, bd -> bd.setDestroyMethodName("")).run(ctx -> {
      AutoGLMProvider provider = ctx.getBean(AutoGLMProvider.class);
      assertThat(provider.state()).isEqualTo(AutoGLMProvider.State.READY);
      assertThat(provider.get()).containsSame(glm);
      assertThat(ctx).hasBean("autoglmOpenAiRoutes");
      ctx.close();
      assertThat(provider.state()).isEqualTo(AutoGLMProvider.State.CLOSED);
      verify(glm, never()).close();
    });
  }

  @Test
  void theApiNeedsAServletWebApplication() {
    new ApplicationContextRunner().withConfiguration(STARTER).withPropertyValues(MISSING_MODEL).run(ctx -> {
      assertThat(ctx).hasSingleBean(AutoGLMProvider.class);
      assertThat(ctx).doesNotHaveBean("autoglmOpenAiRoutes");
    });
    new ReactiveWebApplicationContextRunner().withConfiguration(STARTER).withPropertyValues(MISSING_MODEL)
        .run(ctx -> assertThat(ctx).doesNotHaveBean("autoglmOpenAiRoutes"));
    web.withPropertyValues(MISSING_MODEL, "autoglm.server.enabled=false")
        .run(ctx -> assertThat(ctx).doesNotHaveBean("autoglmOpenAiRoutes"));
  }

  @Test
  void healthIndicatorCanBeTurnedOff() {
    web.withPropertyValues(MISSING_MODEL, "management.health.autoglm.enabled=false").run(ctx -> {
      assertThat(ctx).doesNotHaveBean(AutoGLMHealthIndicator.class);
      assertThat(ctx).doesNotHaveBean(ReadinessGroupMembership.class);
    });
  }

  @Configuration(proxyBeanMethods = false)
  static class UserBeans {
    static final RateLimiter LIMITER = RateLimiter.unlimited();
    static final ResponseCache CACHE = ResponseCache.none();
    static final AutoGLMProvider PROVIDER = AutoGLMProvider.loadInBackground(() -> {
      throw new IllegalStateException("never loads");
    }, Duration.ZERO);
    static final RouterFunction<ServerResponse> ROUTES = RouterFunctions.route()
        .GET("/mine", r -> ServerResponse.ok().build()).build();

    @Bean
    RateLimiter myLimiter() {
      return LIMITER;
    }

    @Bean
    ResponseCache myCache() {
      return CACHE;
    }

    @Bean
    AutoGLMProvider myProvider() {
      return PROVIDER;
    }

    @Bean
    RouterFunction<ServerResponse> autoglmOpenAiRoutes() {
      return ROUTES;
    }
  }
}

package io.autoglm.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.autoglm.redis.RedisRateLimiter;
import io.autoglm.redis.RedisResponseCache;
import io.autoglm.redis.RedisServer;
import io.autoglm.redis.RedisUnavailableException;
import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * {@code autoglm.redis.uri} against a real redis-server: the starter's limiter and cache are the Redis ones, two
 * application contexts (two instances) share one limit, and the fail mode follows {@code autoglm.redis.fail-mode}.
 */
class RedisAutoConfigurationTest {
  private final ApplicationContextRunner runner = new ApplicationContextRunner().withConfiguration(
      AutoConfigurations.of(AutoGLMRedisAutoConfiguration.class, AutoGLMAutoConfiguration.class));

  @Test
  void twoInstancesShareOneLimitThroughRedis() {
    try (RedisServer redis = RedisServer.start()) {
      ApplicationContextRunner shared = runner.withPropertyValues("autoglm.redis.uri=" + redis.uri(),
          "autoglm.redis.timeout=2s", "autoglm.rate-limit.requests-per-minute=1", "autoglm.rate-limit.request-burst=3",
          "autoglm.cache.enabled=true");
      shared.run(a -> shared.run(b -> {
        assertThat(a.getBean(RateLimiter.class)).isInstanceOf(RedisRateLimiter.class);
        assertThat(a.getBean(ResponseCache.class)).isInstanceOf(RedisResponseCache.class);
        RateLimiter la = a.getBean(RateLimiter.class);
        RateLimiter lb = b.getBean(RateLimiter.class);
        la.acquire("k", 0).close();
        lb.acquire("k", 0).close();
        la.acquire("k", 0).close();
        assertThatThrownBy(() -> lb.acquire("k", 0)).isInstanceOf(RateLimitExceededException.class);
        assertThatThrownBy(() -> la.acquire("k", 0)).isInstanceOf(RateLimitExceededException.class);
      }));
      ApplicationContextRunner closed = runner.withPropertyValues("autoglm.redis.uri=" + redis.uri(),
          "autoglm.redis.fail-mode=closed", "autoglm.rate-limit.requests-per-minute=100");
      closed.run(ctx -> {
        RateLimiter l = ctx.getBean(RateLimiter.class);
        l.acquire("k2", 0).close();
        redis.stop();
        assertThatThrownBy(() -> l.acquire("k2", 0)).isInstanceOf(RedisUnavailableException.class);
      });
    }
  }

  @Test
  void withoutAUriTheInProcessDefaultsStayAndBadSettingsNameThemselves() {
    runner.withPropertyValues("autoglm.rate-limit.requests-per-minute=10").run(ctx ->
        assertThat(ctx.getBean(RateLimiter.class)).isNotInstanceOf(RedisRateLimiter.class));
    runner.withPropertyValues("autoglm.redis.uri=redis://localhost:1", "autoglm.redis.fail-mode=sometimes",
        "autoglm.rate-limit.requests-per-minute=10").run(ctx -> assertThat(ctx).getFailure().rootCause()
        .hasMessageContaining("autoglm.redis.fail-mode (sometimes) must be open or closed"));
  }
}

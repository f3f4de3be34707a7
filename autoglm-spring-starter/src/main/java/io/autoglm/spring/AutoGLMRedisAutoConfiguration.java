package io.autoglm.spring;

import io.autoglm.redis.FailMode;
import io.autoglm.redis.RedisOptions;
import io.autoglm.redis.RedisRateLimiter;
import io.autoglm.redis.RedisResponseCache;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.util.Locale;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;

/**
 * With autoglm-redis on the class path and {@code autoglm.redis.uri} set, the response cache
 * ({@code autoglm.cache.enabled}) and the rate limiter ({@code autoglm.rate-limit.*}) live in Redis, shared by every
 * instance pointing at it. While Redis does not answer, {@code autoglm.redis.fail-mode=open} (the default) limits
 * through a local token bucket of the same limits and generates on a cache miss; {@code closed} answers 503. Redis
 * must be reachable at startup. A user's {@code RateLimiter} or {@code ResponseCache} bean wins.
 */
@AutoConfiguration(before = AutoGLMAutoConfiguration.class)
@ConditionalOnClass({RedisRateLimiter.class, RedisURI.class})
@ConditionalOnProperty(prefix = "autoglm.redis", name = "uri")
@EnableConfigurationProperties({AutoGLMProperties.class, AutoGLMRedisAutoConfiguration.Redis.class})
public class AutoGLMRedisAutoConfiguration {

  /**
   * {@code autoglm.redis.*}.
   *
   * @param uri the Redis to share, e.g. {@code redis://redis:6379/0} (rediss:// for TLS; credentials in the URI)
   * @param timeout how long a request waits for Redis before the fail mode applies
   * @param failMode {@code open} (carry on without Redis) or {@code closed} (refuse with 503)
   * @param keyPrefix prepended to every key
   */
  @ConfigurationProperties("autoglm.redis")
  public record Redis(String uri, @DefaultValue("100ms") Duration timeout, @DefaultValue("open") String failMode,
      @DefaultValue("autoglm:") String keyPrefix) {
    public Redis {
      if (timeout == null || timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("autoglm.redis.timeout (" + timeout + ") must be > 0");
      }
      if (!failMode.equalsIgnoreCase("open") && !failMode.equalsIgnoreCase("closed")) {
        throw new IllegalArgumentException("autoglm.redis.fail-mode (" + failMode + ") must be open or closed");
      }
    }

    RedisOptions options() {
      return new RedisOptions(keyPrefix, timeout, FailMode.valueOf(failMode.toUpperCase(Locale.ROOT)));
    }

    RedisURI redisUri() {
      try {
        return RedisURI.create(uri);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("autoglm.redis.uri (" + uri + ") is not a Redis URI: " + e.getMessage()
            + "; expected e.g. redis://host:6379", e);
      }
    }
  }

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean(RateLimiter.class)
  @Conditional(AutoGLMAutoConfiguration.RateLimitConfigured.class)
  RedisRateLimiter autoglmRedisRateLimiter(AutoGLMProperties properties, Redis redis) {
    var limits = properties.rateLimit().toRateLimits().orElseThrow();
    return RedisRateLimiter.builder().uri(redis.redisUri()).limits(limits).options(redis.options())
        .fallback(RateLimiter.tokenBucket(limits)).build();
  }

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean(ResponseCache.class)
  @ConditionalOnBooleanProperty("autoglm.cache.enabled")
  RedisResponseCache autoglmRedisResponseCache(AutoGLMProperties properties, Redis redis) {
    return RedisResponseCache.connect(redis.redisUri(), properties.cache().ttl(), redis.options());
  }
}

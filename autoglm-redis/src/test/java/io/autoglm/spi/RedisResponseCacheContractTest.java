package io.autoglm.spi;

import io.autoglm.redis.RedisOptions;
import io.autoglm.redis.RedisResponseCache;
import io.autoglm.redis.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** The Redis cache held to the contract every {@link ResponseCache} meets, against a real redis-server. */
class RedisResponseCacheContractTest extends ResponseCacheContract {
  private static RedisServer redis;
  private static final AtomicInteger CACHES = new AtomicInteger();
  private final List<RedisResponseCache> caches = new ArrayList<>();

  @BeforeAll
  static void start() {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stop() {
    if (redis != null) {
      redis.close();
    }
  }

  @AfterEach
  void close() {
    caches.forEach(RedisResponseCache::close);
  }

  /** A fresh key prefix per cache: the contract's tests reuse one key, and Redis outlives each test. */
  @Override
  protected ResponseCache newCache() {
    RedisResponseCache c = RedisResponseCache.connect(redis.uri(), Duration.ofMinutes(5), RedisOptions.defaults()
        .withCommandTimeout(Duration.ofSeconds(2)).withKeyPrefix("contract-" + CACHES.incrementAndGet() + ":"));
    caches.add(c);
    return c;
  }
}

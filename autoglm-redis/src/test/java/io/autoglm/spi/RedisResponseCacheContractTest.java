package io.autoglm.spi;

import io.autoglm.redis.RedisFixture;
import io.autoglm.redis.RedisResponseCache;
import java.time.Duration;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Redis cache held to the contract every {@link ResponseCache} meets, against a real redis-server. */
class RedisResponseCacheContractTest extends ResponseCacheContract {
  @RegisterExtension static final RedisFixture REDIS = RedisFixture.perClass();

  /** A fresh key prefix per cache: the contract's tests reuse one key, and Redis outlives each test. */
  @Override
  protected ResponseCache newCache() {
    return REDIS.track(RedisResponseCache.connect(REDIS.uri(), Duration.ofMinutes(5), REDIS.isolated()));
  }
}

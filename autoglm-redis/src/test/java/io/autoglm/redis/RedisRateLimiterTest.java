package io.autoglm.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.spi.RateLimitExceededException.Limit;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.RateLimits;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two limiters with their own connections stand for two app instances: against a real redis-server they share one
 * set of limits exactly as one in-process token bucket would; with Redis gone they follow their fail mode.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES) // a hang guard, not a speed check
class RedisRateLimiterTest {
  @RegisterExtension final RedisFixture redis = RedisFixture.perTest();

  private RedisRateLimiter limiter(RateLimits limits, RedisOptions options, RateLimiter fallback) {
    return redis.track(RedisRateLimiter.builder().uri(redis.uri()).limits(limits).options(options)
        .fallback(fallback).build());
  }

  private RedisRateLimiter limiter(RateLimits limits) {
    return limiter(limits, redis.options(), RateLimiter.unlimited());
  }

  @Test
  void twoInstancesShareOneRequestBucket() throws Exception {
    // 1 request/min refill: over this test's few seconds, at most the burst of 10 (plus one refill) passes.
    RateLimits limits = RateLimits.builder().requestsPerMinute(1).requestBurst(10).build();
    RedisRateLimiter a = limiter(limits);
    RedisRateLimiter b = limiter(limits);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Boolean>> tries = new ArrayList<>();
      long start = System.nanoTime();
      for (int i = 0; i < 40; i++) {
        RedisRateLimiter l = i % 2 == 0 ? a : b;
        tries.add(pool.submit(() -> {
          try {
            l.acquire("tenant-1", 0).release(0);
            return true;
          } catch (RateLimitExceededException e) {
            assertEquals(Limit.REQUESTS_PER_MINUTE, e.limit());
            assertTrue(e.retryAfter().toMillis() > 0, "retry after " + e.retryAfter());
            return false;
          }
        }));
      }
      int admitted = 0;
      for (Future<Boolean> f : tries) {
        admitted += f.get() ? 1 : 0;
      }
      double minutes = (System.nanoTime() - start) / 60e9;
      long bound = 10 + (long) Math.floor(minutes * 1); // burst + rate * t, the bucket's documented bound
      assertTrue(admitted >= 10 && admitted <= bound, "admitted " + admitted + " of 40, bound " + bound);
      assertEquals(admitted, countAdmittedSoFar(a, b, admitted));
    } finally {
      pool.shutdownNow();
    }
    // Another caller key has a bucket of its own.
    a.acquire("tenant-2", 0).close();
  }

  /** Both instances now reject: the bucket is empty for both, not per connection. */
  private static int countAdmittedSoFar(RedisRateLimiter a, RedisRateLimiter b, int admitted) {
    assertThrows(RateLimitExceededException.class, () -> a.acquire("tenant-1", 0));
    assertThrows(RateLimitExceededException.class, () -> b.acquire("tenant-1", 0));
    return admitted;
  }

  @Test
  void concurrencyCapSpansInstancesAndAReleaseFreesASlotForTheOther() {
    RateLimits limits = RateLimits.builder().maxConcurrentRequests(3).build();
    RedisRateLimiter a = limiter(limits);
    RedisRateLimiter b = limiter(limits);
    RateLimiter.Permit p1 = a.acquire("k", 1);
    a.acquire("k", 1);
    b.acquire("k", 1);
    RateLimitExceededException e = assertThrows(RateLimitExceededException.class, () -> b.acquire("k", 1));
    assertEquals(Limit.CONCURRENT_REQUESTS, e.limit());
    assertEquals(Duration.ZERO, e.retryAfter());
    p1.release(1);
    p1.release(1); // a second release has no effect: still one slot free, not two
    awaitAdmitted(b, "k");
    assertThrows(RateLimitExceededException.class, () -> a.acquire("k", 1));
  }

  /** The release is sent without waiting; the next acquisition sees it once Redis has run it. */
  private static RateLimiter.Permit awaitAdmitted(RedisRateLimiter l, String key) {
    for (int i = 0; i < 200; i++) {
      try {
        return l.acquire(key, 1);
      } catch (RateLimitExceededException e) {
        RedisServer.sleep(10);
      }
    }
    throw new AssertionError("the release never reached Redis");
  }

  @Test
  void tokensAnEarlyStopDidNotUseGoBackToTheSharedBucket() {
    // 1 token/min refill: the levels below move only by what requests take and give back.
    RateLimits limits = RateLimits.builder().tokensPerMinute(1).tokenBurst(100).build();
    RedisRateLimiter a = limiter(limits);
    RedisRateLimiter b = limiter(limits);
    RateLimiter.Permit p = a.acquire("k", 60);
    RateLimitExceededException e = assertThrows(RateLimitExceededException.class, () -> b.acquire("k", 60));
    assertEquals(Limit.TOKENS_PER_MINUTE, e.limit());
    p.release(10); // used 10 of 60: 50 come back, so 90 are free
    RateLimiter.Permit q = null;
    for (int i = 0; i < 200 && q == null; i++) {
      try {
        q = b.acquire("k", 90);
      } catch (RateLimitExceededException notYet) {
        RedisServer.sleep(10);
      }
    }
    assertTrue(q != null, "the 50 unused tokens never came back");
    assertThrows(RateLimitExceededException.class, () -> a.acquire("k", 2)); // 0 or 1 left, never 2
    assertThrows(IllegalArgumentException.class, () -> a.acquire("k", 101));
  }

  /**
   * Acquires once Redis answers within the limiter's (short) command timeout: a fresh server on a loaded host may
   * not answer the very first script in 100 ms, and that is not what the tests below are about.
   */
  private static RateLimiter.Permit answered(RedisRateLimiter l, String key) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        return l.acquire(key, 0);
      } catch (RedisUnavailableException e) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("Redis never answered within the command timeout", e);
        }
        RedisServer.sleep(20);
      }
    }
  }

  @Test
  void redisKilledFailOpenAdmitsThroughTheFallbackAndRecoversWhenRedisIsBack() {
    RateLimits limits = RateLimits.builder().requestsPerMinute(1).requestBurst(1).build();
    // 2 s, not the default 100 ms: a slow answer from a healthy Redis on a loaded host would be taken for an outage
    // (one more unavailable count, a fallback token used, a restarted bucket charged by a timed-out script). A
    // killed Redis is refused at once (the client rejects commands while disconnected), whatever the timeout.
    RedisRateLimiter open = limiter(limits, RedisOptions.defaults().withCommandTimeout(Duration.ofSeconds(2)),
        RateLimiter.tokenBucket(RateLimits.builder().requestsPerMinute(1).requestBurst(2).build()));
    open.acquire("k", 0).close();
    assertThrows(RateLimitExceededException.class, () -> open.acquire("k", 0));
    redis.server().stop();
    // Redis gone: the local fallback decides (burst 2), not Redis's empty bucket.
    open.acquire("k", 0).close();
    open.acquire("k", 0).close();
    RateLimitExceededException local = assertThrows(RateLimitExceededException.class, () -> open.acquire("k", 0));
    assertEquals(Limit.REQUESTS_PER_MINUTE, local.limit());
    assertEquals(3, open.unavailableCount());
    redis.server().startProcess(); // a fresh, empty Redis on the same port: the shared bucket starts full again
    long before = open.unavailableCount();
    boolean back = false;
    for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); !back && System.nanoTime() < deadline; ) {
      try {
        open.acquire("k", 0);
        back = open.unavailableCount() == before;
        before = open.unavailableCount();
      } catch (RateLimitExceededException e) {
        before = open.unavailableCount();
      }
      RedisServer.sleep(20);
    }
    assertTrue(back, "the limiter never reconnected to the restarted Redis");
    assertThrows(RateLimitExceededException.class, () -> open.acquire("k", 0)); // Redis's bucket of 1 again
  }

  @Test
  void redisKilledFailClosedRefusesWithA503ShapedException() {
    RedisRateLimiter closed = limiter(RateLimits.builder().requestsPerMinute(100).build(),
        RedisOptions.defaults().withFailMode(FailMode.CLOSED), RateLimiter.unlimited());
    answered(closed, "k").close();
    redis.server().stop();
    RedisUnavailableException e = assertThrows(RedisUnavailableException.class, () -> closed.acquire("k", 0));
    assertTrue(e.getMessage().contains("fails closed") && e.getMessage().contains("100 ms"), e.getMessage());
    assertTrue(e instanceof io.autoglm.OverloadedException);
  }

  @Test
  void aRedisThatStallsPastTheTimeoutIsAnOutageNotAWait() throws Exception {
    RedisRateLimiter closed = limiter(RateLimits.builder().requestsPerMinute(100).build(),
        RedisOptions.defaults().withFailMode(FailMode.CLOSED).withCommandTimeout(Duration.ofMillis(200)),
        RateLimiter.unlimited());
    answered(closed, "k").close();
    RedisClient client = RedisClient.create(redis.uri());
    try (StatefulRedisConnection<String, String> admin = client.connect()) {
      // CLIENT PAUSE answers once the pause is in force: from then on Redis stalls every other client for 3 s. (A
      // DEBUG SLEEP sent without waiting could reach the server after the limiter's script on a loaded host.)
      assertEquals("OK", admin.sync().clientPause(3000));
      assertThrows(RedisUnavailableException.class, () -> closed.acquire("k", 0));
    } finally {
      client.shutdown();
    }
    answered(closed, "k").close(); // Redis answers again once the pause is over
  }
}

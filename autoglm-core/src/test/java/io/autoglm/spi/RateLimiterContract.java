package io.autoglm.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.spi.RateLimitExceededException.Limit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * What every token-bucket {@link RateLimiter} must do. Most tests drive a fake clock; the two hammer tests run on
 * real time for 2 s each, as the acceptance asks.
 */
abstract class RateLimiterContract {
  private final AtomicLong nowNanos = new AtomicLong(1_000_000_000L);

  protected abstract RateLimiter newLimiter(RateLimits limits, LongSupplier nanoTime);

  /**
   * The limiter's clock resolution: a token bucket that keeps time in ticks may count one tick of refill early
   * (both the last refill and now are rounded down), so the budget bound allows one tick's worth. 0: exact.
   */
  protected long clockTickNanos() {
    return 0;
  }

  private RateLimiter fakeClockLimiter(RateLimits limits) {
    return newLimiter(limits, nowNanos::get);
  }

  private void advance(Duration d) {
    nowNanos.addAndGet(d.toNanos());
  }

  private static RateLimitExceededException rejected(RateLimiter limiter, String caller, long tokens) {
    return assertThrows(RateLimitExceededException.class, () -> limiter.acquire(caller, tokens));
  }

  @Test
  void burstThenRateWithExactRetryAfter() {
    // 60 requests/min = one per second; a burst of 2 starts available.
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().requestsPerMinute(60).requestBurst(2).build());
    limiter.acquire("a", 0).release(0);
    limiter.acquire("a", 0).release(0);
    RateLimitExceededException e = rejected(limiter, "a", 0);
    assertEquals(Limit.REQUESTS_PER_MINUTE, e.limit());
    assertEquals("a", e.callerKey());
    assertEquals(Duration.ofSeconds(1), e.retryAfter(), "the bucket is empty; one request refills in 1 s");
    advance(Duration.ofMillis(400));
    assertEquals(Duration.ofMillis(600), rejected(limiter, "a", 0).retryAfter());
    advance(Duration.ofMillis(600));
    limiter.acquire("a", 0).release(0);
  }

  @Test
  void callersHaveTheirOwnBuckets() {
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().requestsPerMinute(60).requestBurst(1).build());
    limiter.acquire("a", 0).release(0);
    rejected(limiter, "a", 0);
    limiter.acquire("b", 0).release(0);
  }

  @Test
  void tokensAreReservedUpFrontAndReconciledAtRelease() {
    // 6,000 tokens/min = 100 per second; burst 1,000.
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().tokensPerMinute(6_000).tokenBurst(1_000).build());
    RateLimiter.Permit first = limiter.acquire("a", 600); // level 1,000 -> 400
    assertEquals(600, first.reservedTokens());
    RateLimitExceededException e = rejected(limiter, "a", 600);
    assertEquals(Limit.TOKENS_PER_MINUTE, e.limit());
    assertEquals(Duration.ofSeconds(2), e.retryAfter(), "200 tokens short at 100 tokens/s");
    first.release(100); // used 100 of 600: level 400 -> 900
    limiter.acquire("a", 600).release(600); // level 900 -> 300
    assertEquals(Duration.ofSeconds(3), rejected(limiter, "a", 600).retryAfter(), "300 short");
  }

  @Test
  void closeChargesTheWholeReservation() {
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().tokensPerMinute(6_000).tokenBurst(1_000).build());
    try (RateLimiter.Permit permit = limiter.acquire("a", 700)) {
      assertEquals(700, permit.reservedTokens());
    }
    assertEquals(Duration.ofSeconds(4), rejected(limiter, "a", 700).retryAfter(), "level 300: 400 short");
  }

  @Test
  void concurrencyCapRejectsWithZeroRetryAfterUntilAPermitIsReleased() {
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().maxConcurrentRequests(2).build());
    RateLimiter.Permit p1 = limiter.acquire("a", 10);
    limiter.acquire("a", 10);
    RateLimitExceededException e = rejected(limiter, "a", 10);
    assertEquals(Limit.CONCURRENT_REQUESTS, e.limit());
    assertEquals(Duration.ZERO, e.retryAfter());
    p1.release(3);
    p1.release(3); // a second release changes nothing
    p1.close();
    limiter.acquire("a", 10);
    assertEquals(Limit.CONCURRENT_REQUESTS, rejected(limiter, "a", 10).limit(), "still two in flight");
  }

  @Test
  void aRejectionReservesNothing() {
    // 1 request/s with burst 2; 100 tokens/s with burst 100.
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().requestsPerMinute(60).requestBurst(2)
        .tokensPerMinute(6_000).tokenBurst(100).build());
    limiter.acquire("a", 80).release(80); // requests 2 -> 1, tokens 100 -> 20
    RateLimitExceededException e = rejected(limiter, "a", 50);
    assertEquals(Limit.TOKENS_PER_MINUTE, e.limit());
    assertEquals(Duration.ofMillis(300), e.retryAfter());
    advance(e.retryAfter()); // requests 1.3, tokens 50: passes only if the rejection took no request
    limiter.acquire("a", 50).release(50);
  }

  @Test
  void aClockReadOutOfOrderRefillsNothingTwice() {
    // Threads (or instances) read the clock before their call reaches the bucket, so an older reading can arrive
    // after a newer one. It must not move the bucket's refill time back: the time in between would refill twice.
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().tokensPerMinute(60_000).tokenBurst(100).build());
    RateLimiter.Permit held = limiter.acquire("a", 100); // 1 token/ms; level 100 -> 0
    advance(Duration.ofMillis(10));
    limiter.acquire("a", 10).release(10); // level 10 -> 0 at t = 10 ms
    advance(Duration.ofMillis(-5));
    held.release(100); // a release read at t = 5 ms arrives late: nothing to refund, nothing refilled
    advance(Duration.ofMillis(5));
    RateLimitExceededException e = rejected(limiter, "a", 5);
    assertEquals(Duration.ofMillis(5), e.retryAfter(), "t = 10 ms again: 0 tokens, 5 ms short of 5");
  }

  @Test
  void requestLargerThanTheTokenBurstIsAnArgumentError() {
    RateLimiter limiter = fakeClockLimiter(RateLimits.builder().tokensPerMinute(6_000).tokenBurst(1_000).build());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> limiter.acquire("a", 1_001));
    assertTrue(e.getMessage().contains("1001") && e.getMessage().contains("1000"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> limiter.acquire("a", -1));
  }

  @Test
  void eightThreadsForTwoSecondsAtTenRequestsPerSecond() throws Exception {
    // 600 requests/min = 10/s. Burst 1: over 2 s at most 1 + 20 pass, so the count lands within 10% of 20.
    // A tokens-per-minute limit rides along and must hold at every admission.
    long tokensPerMinute = 12_000; // 200 tokens/s, burst 100: binding only if requests ask for > 20 tokens each
    RateLimits limits = RateLimits.builder().requestsPerMinute(600).requestBurst(1)
        .tokensPerMinute(tokensPerMinute).tokenBurst(100).build();
    Hammer hammer = hammer(newLimiter(limits, System::nanoTime), limits, clockTickNanos(), () -> 15,
        Duration.ofSeconds(2));
    System.out.printf("%s: 10 requests/s for 2 s: %d accepted, %d rejected%n", getClass().getSimpleName(),
        hammer.accepted.get(), hammer.rejected.get());
    assertTrue(Math.abs(hammer.accepted.get() - 20) <= 2,
        "accepted " + hammer.accepted.get() + " in 2 s at 10 requests/s; expected 20 +- 10%");
    assertTrue(hammer.rejected.get() > 100, "the threads hammered: " + hammer.rejected.get() + " rejections");
    assertTrue(hammer.badRetryAfter.isEmpty(), "negative retry-after: " + hammer.badRetryAfter);
    assertTrue(hammer.overBudget.isEmpty(), "token budget exceeded: " + hammer.overBudget);
  }

  @Test
  void eightThreadsNeverExceedTheTokenBudget() throws Exception {
    // 60,000 tokens/min = 1,000/s, burst 500; requests of 50-200 tokens that use a random part of it.
    RateLimits limits = RateLimits.builder().tokensPerMinute(60_000).tokenBurst(500).build();
    Hammer hammer = hammer(newLimiter(limits, System::nanoTime), limits, clockTickNanos(),
        () -> ThreadLocalRandom.current().nextLong(50, 201), Duration.ofSeconds(2));
    assertTrue(hammer.overBudget.isEmpty(), "token budget exceeded: " + hammer.overBudget);
    assertTrue(hammer.badRetryAfter.isEmpty(), "negative retry-after: " + hammer.badRetryAfter);
    assertTrue(hammer.rejectedByTokens.get() > 0, "the token limit was reached");
    // Charged tokens end near the budget: the limiter lets through what the refund frees, not far less.
    long budget = 500 + 1_000 * 2;
    System.out.printf("%s: 1,000 tokens/s, burst 500, for 2 s: %d tokens charged (bound %d), %d rejections%n",
        getClass().getSimpleName(), hammer.charged.get(), budget, hammer.rejected.get());
    assertTrue(hammer.charged.get() > budget * 0.6, "charged " + hammer.charged.get() + " of " + budget);
  }

  /** Counts of one hammer run. {@code charged} is reserved-then-reconciled tokens, checked at every admission. */
  private static final class Hammer {
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicInteger rejected = new AtomicInteger();
    final AtomicInteger rejectedByTokens = new AtomicInteger();
    final AtomicLong charged = new AtomicLong();
    final ConcurrentLinkedQueue<Duration> badRetryAfter = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<String> overBudget = new ConcurrentLinkedQueue<>();
  }

  private static Hammer hammer(RateLimiter limiter, RateLimits limits, long tickNanos, LongSupplier reservation,
      Duration window)
      throws InterruptedException {
    Hammer h = new Hammer();
    double tokensPerNano = limits.tokensPerMinute() / 60e9;
    long start = System.nanoTime();
    long deadline = start + window.toNanos();
    AtomicBoolean failed = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      Thread thread = new Thread(() -> {
        while (System.nanoTime() < deadline && !failed.get()) {
          long reserved = reservation.getAsLong();
          try {
            RateLimiter.Permit permit = limiter.acquire("caller", reserved);
            long total = h.charged.addAndGet(reserved);
            h.accepted.incrementAndGet();
            if (limits.limitsTokens()) {
              // Token bucket bound: never more than the burst plus what the rate refilled since the start.
              double allowed = limits.tokenBurst() + (System.nanoTime() - start + tickNanos) * tokensPerNano;
              if (total > allowed + 1e-6) {
                h.overBudget.add(total + " > " + allowed);
              }
            }
            long used = ThreadLocalRandom.current().nextLong(0, reserved + 1);
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(300)); // the request runs
            h.charged.addAndGet(used - reserved);
            permit.release(used);
          } catch (RateLimitExceededException e) {
            h.rejected.incrementAndGet();
            if (e.limit() == Limit.TOKENS_PER_MINUTE) {
              h.rejectedByTokens.incrementAndGet();
            }
            if (e.retryAfter().isNegative()) {
              h.badRetryAfter.add(e.retryAfter());
            }
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200)); // hammer, but leave the 2 cores usable
          }
        }
      });
      threads.add(thread);
      thread.start();
    }
    for (Thread thread : threads) {
      thread.join(TimeUnit.SECONDS.toMillis(30));
      assertFalse(thread.isAlive(), "hammer thread still running");
    }
    return h;
  }
}

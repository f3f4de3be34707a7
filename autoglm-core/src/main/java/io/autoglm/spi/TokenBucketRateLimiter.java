package io.autoglm.spi;

import io.autoglm.spi.RateLimitExceededException.Limit;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The default {@link RateLimiter}: per caller key, a request bucket, a token bucket and an in-flight count, checked
 * and charged together under the caller's lock (all or nothing).
 *
 * <p>Invariants per caller: {@code 0 <= inFlight <= maxConcurrentRequests}; a bucket level never exceeds its burst;
 * the token level goes below zero only when a request used more than it reserved. Every
 * {@value #SWEEP_EVERY} acquisitions, callers whose buckets are full and who have nothing in flight are dropped;
 * that loses nothing, since a new caller starts in exactly that state.
 */
final class TokenBucketRateLimiter implements RateLimiter {
  static final int SWEEP_EVERY = 1024;
  private static final double NANOS_PER_MINUTE = 60e9;

  private final RateLimits limits;
  private final LongSupplier nanoTime;
  private final double requestsPerNano;
  private final double tokensPerNano;
  private final Map<String, Caller> callers = new ConcurrentHashMap<>();
  private final AtomicLong acquisitions = new AtomicLong();

  TokenBucketRateLimiter(RateLimits limits, LongSupplier nanoTime) {
    this.limits = Objects.requireNonNull(limits, "limits must not be null");
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime must not be null");
    this.requestsPerNano = limits.requestsPerMinute() / NANOS_PER_MINUTE;
    this.tokensPerNano = limits.tokensPerMinute() / NANOS_PER_MINUTE;
  }

  @Override
  public Permit acquire(String callerKey, long reservedTokens) {
    Objects.requireNonNull(callerKey, "callerKey must not be null");
    if (reservedTokens < 0) {
      throw new IllegalArgumentException("reservedTokens (" + reservedTokens + ") must be >= 0");
    }
    if (limits.limitsTokens() && reservedTokens > limits.tokenBurst()) {
      throw new IllegalArgumentException(String.format(
          "reservedTokens (%d) can never be admitted: tokenBurst is %d tokens; lower maxNewTokens or raise tokenBurst",
          reservedTokens, limits.tokenBurst()));
    }
    if (acquisitions.incrementAndGet() % SWEEP_EVERY == 0) {
      sweep();
    }
    while (true) {
      Caller caller = callers.computeIfAbsent(callerKey, k -> new Caller(nanoTime.getAsLong()));
      synchronized (caller) {
        if (!caller.retired) {
          caller.admit(callerKey, reservedTokens, nanoTime.getAsLong());
          return new BucketPermit(caller, reservedTokens);
        }
      }
    }
  }

  private void sweep() {
    long now = nanoTime.getAsLong();
    callers.forEach((key, caller) -> {
      synchronized (caller) {
        caller.refill(now);
        if (caller.inFlight == 0 && caller.requestLevel >= limits.requestBurst()
            && caller.tokenLevel >= limits.tokenBurst()) {
          caller.retired = true;
          callers.remove(key, caller);
        }
      }
    });
  }

  /** Callers currently tracked (tests). */
  int trackedCallers() {
    return callers.size();
  }

  /** One caller's buckets; guarded by its own monitor. */
  private final class Caller {
    private double requestLevel = limits.requestBurst();
    private double tokenLevel = limits.tokenBurst();
    private long refilledAtNanos;
    private int inFlight;
    private boolean retired;

    Caller(long nowNanos) {
      this.refilledAtNanos = nowNanos;
    }

    void refill(long nowNanos) {
      long elapsed = nowNanos - refilledAtNanos;
      if (elapsed <= 0) {
        return;
      }
      refilledAtNanos = nowNanos;
      if (limits.limitsRequests()) {
        requestLevel = Math.min(limits.requestBurst(), requestLevel + elapsed * requestsPerNano);
      }
      if (limits.limitsTokens()) {
        tokenLevel = Math.min(limits.tokenBurst(), tokenLevel + elapsed * tokensPerNano);
      }
    }

    void admit(String callerKey, long reservedTokens, long nowNanos) {
      if (limits.limitsConcurrency() && inFlight >= limits.maxConcurrentRequests()) {
        throw new RateLimitExceededException(callerKey, Limit.CONCURRENT_REQUESTS, Duration.ZERO,
            limits.maxConcurrentRequests() + " requests in flight");
      }
      refill(nowNanos);
      long requestWait = limits.limitsRequests() ? waitNanos(1 - requestLevel, requestsPerNano) : 0;
      long tokenWait = limits.limitsTokens() ? waitNanos(reservedTokens - tokenLevel, tokensPerNano) : 0;
      if (requestWait > 0 || tokenWait > 0) {
        // Report the longer wait: a retry after it passes both buckets (if nothing else takes them first).
        if (requestWait >= tokenWait) {
          throw new RateLimitExceededException(callerKey, Limit.REQUESTS_PER_MINUTE, Duration.ofNanos(requestWait),
              String.format("%d requests/min, burst %d", limits.requestsPerMinute(), limits.requestBurst()));
        }
        throw new RateLimitExceededException(callerKey, Limit.TOKENS_PER_MINUTE, Duration.ofNanos(tokenWait),
            String.format("%d tokens/min, burst %d; %d requested", limits.tokensPerMinute(), limits.tokenBurst(),
                reservedTokens));
      }
      if (limits.limitsRequests()) {
        requestLevel -= 1;
      }
      if (limits.limitsTokens()) {
        tokenLevel -= reservedTokens;
      }
      inFlight++;
    }

    void release(long reservedTokens, long actualTokens, long nowNanos) {
      refill(nowNanos);
      inFlight--;
      if (limits.limitsTokens()) {
        tokenLevel = Math.min(limits.tokenBurst(), tokenLevel + reservedTokens - actualTokens);
      }
    }
  }

  private static long waitNanos(double deficit, double perNano) {
    return deficit <= 0 ? 0 : (long) Math.ceil(deficit / perNano);
  }

  private final class BucketPermit implements Permit {
    private final Caller caller;
    private final long reservedTokens;
    private final AtomicBoolean released = new AtomicBoolean();

    BucketPermit(Caller caller, long reservedTokens) {
      this.caller = caller;
      this.reservedTokens = reservedTokens;
    }

    @Override
    public long reservedTokens() {
      return reservedTokens;
    }

    @Override
    public void release(long actualTokens) {
      if (actualTokens < 0) {
        throw new IllegalArgumentException("actualTokens (" + actualTokens + ") must be >= 0");
      }
      if (released.compareAndSet(false, true)) {
        synchronized (caller) {
          caller.release(reservedTokens, actualTokens, nanoTime.getAsLong());
        }
      }
    }
  }
}

package io.autoglm.spi;

import io.autoglm.spi.RateLimitExceededException.Limit;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A second, minimal limiter held to the same contract: the generic cell rate algorithm (one "theoretical arrival
 * time" per bucket instead of a level), under one global lock. Equivalent to a token bucket whose level is
 * {@code burst - (tat - now) / interval}.
 */
class GcraRateLimiterTest extends RateLimiterContract {

  static final class GcraRateLimiter implements RateLimiter {
    private final RateLimits limits;
    private final LongSupplier nanoTime;
    private final Map<String, long[]> state = new HashMap<>(); // {requestTat, tokenTat, inFlight}

    GcraRateLimiter(RateLimits limits, LongSupplier nanoTime) {
      this.limits = limits;
      this.nanoTime = nanoTime;
    }

    private static double interval(long perMinute) {
      return 60e9 / perMinute; // nanos per unit
    }

    @Override
    public synchronized Permit acquire(String callerKey, long reservedTokens) {
      if (reservedTokens < 0 || (limits.limitsTokens() && reservedTokens > limits.tokenBurst())) {
        throw new IllegalArgumentException("reservedTokens (" + reservedTokens + ") must be in [0, "
            + limits.tokenBurst() + "]");
      }
      long now = nanoTime.getAsLong();
      long[] s = state.computeIfAbsent(callerKey, k -> new long[] {now, now, 0});
      if (limits.limitsConcurrency() && s[2] >= limits.maxConcurrentRequests()) {
        throw new RateLimitExceededException(callerKey, Limit.CONCURRENT_REQUESTS, Duration.ZERO, "cap");
      }
      long requestTat = Math.max(s[0], now);
      long tokenTat = Math.max(s[1], now);
      long requestWait = 0;
      long tokenWait = 0;
      if (limits.limitsRequests()) {
        double t = interval(limits.requestsPerMinute());
        requestWait = (long) Math.ceil(requestTat + t - now - limits.requestBurst() * t);
      }
      if (limits.limitsTokens()) {
        double t = interval(limits.tokensPerMinute());
        tokenWait = (long) Math.ceil(tokenTat + reservedTokens * t - now - limits.tokenBurst() * t);
      }
      if (requestWait > 0 || tokenWait > 0) {
        Limit limit = requestWait >= tokenWait ? Limit.REQUESTS_PER_MINUTE : Limit.TOKENS_PER_MINUTE;
        throw new RateLimitExceededException(callerKey, limit, Duration.ofNanos(Math.max(requestWait, tokenWait)),
            "gcra");
      }
      if (limits.limitsRequests()) {
        s[0] = requestTat + Math.round(interval(limits.requestsPerMinute()));
      }
      if (limits.limitsTokens()) {
        s[1] = tokenTat + Math.round(reservedTokens * interval(limits.tokensPerMinute()));
      }
      s[2]++;
      boolean[] released = {false};
      return new Permit() {
        @Override
        public long reservedTokens() {
          return reservedTokens;
        }

        @Override
        public void release(long actualTokens) {
          if (actualTokens < 0) {
            throw new IllegalArgumentException("actualTokens (" + actualTokens + ") must be >= 0");
          }
          synchronized (GcraRateLimiter.this) {
            if (released[0]) {
              return;
            }
            released[0] = true;
            s[2]--;
            if (limits.limitsTokens()) {
              long refund = Math.round((reservedTokens - actualTokens) * interval(limits.tokensPerMinute()));
              s[1] = Math.max(s[1] - refund, nanoTime.getAsLong()); // a full bucket holds no more than its burst
            }
          }
        }
      };
    }
  }

  @Override
  protected RateLimiter newLimiter(RateLimits limits, LongSupplier nanoTime) {
    return new GcraRateLimiter(limits, nanoTime);
  }
}

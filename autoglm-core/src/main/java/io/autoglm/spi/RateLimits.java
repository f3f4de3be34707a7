package io.autoglm.spi;

import java.util.OptionalLong;

/**
 * The limits of {@link RateLimiter#tokenBucket}, applied to each caller key on its own.
 *
 * <p>Each rate is a token bucket: it holds at most its burst, starts full, and refills continuously at the
 * per-minute rate. So over any window of {@code t} seconds a caller is admitted at most
 * {@code burst + rate * t / 60}: a burst of a full minute's worth (the default) allows up to twice the per-minute
 * rate in one minute; a small burst holds the rate tightly. {@link #UNLIMITED} turns a limit off.
 *
 * @param requestsPerMinute refill rate of the request bucket
 * @param requestBurst capacity of the request bucket, in requests
 * @param tokensPerMinute refill rate of the token bucket; a request takes {@code promptTokens + maxNewTokens} and
 *     gets back what it did not use
 * @param tokenBurst capacity of the token bucket, in tokens: also the largest request that can ever be admitted
 * @param maxConcurrentRequests requests of one caller in flight at once
 */
public record RateLimits(long requestsPerMinute, long requestBurst, long tokensPerMinute, long tokenBurst,
    int maxConcurrentRequests) {

  /** No limit on that dimension. */
  public static final long UNLIMITED = Long.MAX_VALUE;

  public RateLimits {
    requirePositive("requestsPerMinute", requestsPerMinute);
    requirePositive("requestBurst", requestBurst);
    requirePositive("tokensPerMinute", tokensPerMinute);
    requirePositive("tokenBurst", tokenBurst);
    requirePositive("maxConcurrentRequests", maxConcurrentRequests);
  }

  private static void requirePositive(String name, long value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " (" + value + ") must be >= 1 (RateLimits.UNLIMITED turns it off)");
    }
  }

  public boolean limitsRequests() {
    return requestsPerMinute != UNLIMITED;
  }

  public boolean limitsTokens() {
    return tokensPerMinute != UNLIMITED;
  }

  public boolean limitsConcurrency() {
    return maxConcurrentRequests != Integer.MAX_VALUE;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link RateLimits}; every limit starts off, and a burst defaults to its per-minute rate. A setting given
   * twice is rejected; {@link #build()} leaves the builder reusable.
   */
  public static final class Builder {
    private OptionalLong requestsPerMinute = OptionalLong.empty();
    private OptionalLong requestBurst = OptionalLong.empty();
    private OptionalLong tokensPerMinute = OptionalLong.empty();
    private OptionalLong tokenBurst = OptionalLong.empty();
    private OptionalLong maxConcurrentRequests = OptionalLong.empty();

    private Builder() {}

    public Builder requestsPerMinute(long requestsPerMinute) {
      this.requestsPerMinute = once("requestsPerMinute", this.requestsPerMinute, requestsPerMinute);
      return this;
    }

    public Builder requestBurst(long requestBurst) {
      this.requestBurst = once("requestBurst", this.requestBurst, requestBurst);
      return this;
    }

    public Builder tokensPerMinute(long tokensPerMinute) {
      this.tokensPerMinute = once("tokensPerMinute", this.tokensPerMinute, tokensPerMinute);
      return this;
    }

    public Builder tokenBurst(long tokenBurst) {
      this.tokenBurst = once("tokenBurst", this.tokenBurst, tokenBurst);
      return this;
    }

    public Builder maxConcurrentRequests(int maxConcurrentRequests) {
      this.maxConcurrentRequests = once("maxConcurrentRequests", this.maxConcurrentRequests, maxConcurrentRequests);
      return this;
    }

    private static OptionalLong once(String name, OptionalLong current, long value) {
      if (current.isPresent()) {
        throw new IllegalStateException(name + " was already set to " + current.getAsLong());
      }
      return OptionalLong.of(value);
    }

    public RateLimits build() {
      if (requestBurst.isPresent() && requestsPerMinute.isEmpty()) {
        throw new IllegalStateException("requestBurst (" + requestBurst.getAsLong()
            + ") needs requestsPerMinute to be set");
      }
      if (tokenBurst.isPresent() && tokensPerMinute.isEmpty()) {
        throw new IllegalStateException("tokenBurst (" + tokenBurst.getAsLong() + ") needs tokensPerMinute to be set");
      }
      long rpm = requestsPerMinute.orElse(UNLIMITED);
      long tpm = tokensPerMinute.orElse(UNLIMITED);
      return new RateLimits(rpm, requestBurst.orElse(rpm), tpm, tokenBurst.orElse(tpm),
          (int) maxConcurrentRequests.orElse(Integer.MAX_VALUE));
    }
  }
}

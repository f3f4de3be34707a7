package io.autoglm.spi;

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
    private long requestsPerMinute = -1;
    private long requestBurst = -1;
    private long tokensPerMinute = -1;
    private long tokenBurst = -1;
    private int maxConcurrentRequests = -1;

    private Builder() {}

    public Builder requestsPerMinute(long requestsPerMinute) {
      requireUnset("requestsPerMinute", this.requestsPerMinute);
      this.requestsPerMinute = requestsPerMinute;
      return this;
    }

    public Builder requestBurst(long requestBurst) {
      requireUnset("requestBurst", this.requestBurst);
      this.requestBurst = requestBurst;
      return this;
    }

    public Builder tokensPerMinute(long tokensPerMinute) {
      requireUnset("tokensPerMinute", this.tokensPerMinute);
      this.tokensPerMinute = tokensPerMinute;
      return this;
    }

    public Builder tokenBurst(long tokenBurst) {
      requireUnset("tokenBurst", this.tokenBurst);
      this.tokenBurst = tokenBurst;
      return this;
    }

    public Builder maxConcurrentRequests(int maxConcurrentRequests) {
      requireUnset("maxConcurrentRequests", this.maxConcurrentRequests);
      this.maxConcurrentRequests = maxConcurrentRequests;
      return this;
    }

    private static void requireUnset(String name, long current) {
      if (current != -1) {
        throw new IllegalStateException(name + " was already set to " + current);
      }
    }

    public RateLimits build() {
      if (requestBurst != -1 && requestsPerMinute == -1) {
        throw new IllegalStateException("requestBurst (" + requestBurst + ") needs requestsPerMinute to be set");
      }
      if (tokenBurst != -1 && tokensPerMinute == -1) {
        throw new IllegalStateException("tokenBurst (" + tokenBurst + ") needs tokensPerMinute to be set");
      }
      long rpm = requestsPerMinute == -1 ? UNLIMITED : requestsPerMinute;
      long tpm = tokensPerMinute == -1 ? UNLIMITED : tokensPerMinute;
      return new RateLimits(rpm, requestBurst == -1 ? rpm : requestBurst, tpm, tokenBurst == -1 ? tpm : tokenBurst,
          maxConcurrentRequests == -1 ? Integer.MAX_VALUE : maxConcurrentRequests);
    }
  }
}

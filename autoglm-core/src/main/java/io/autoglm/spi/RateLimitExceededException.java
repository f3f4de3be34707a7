package io.autoglm.spi;

import java.time.Duration;
import java.util.Objects;

/**
 * A request was not admitted by a {@link RateLimiter}. It says which limit and when a retry may pass; it carries no
 * stack trace, since a rejection is an answer, not a bug.
 */
public final class RateLimitExceededException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The limit a request ran into. */
  public enum Limit {
    REQUESTS_PER_MINUTE,
    TOKENS_PER_MINUTE,
    CONCURRENT_REQUESTS
  }

  private final String callerKey;
  private final Limit limit;
  private final Duration retryAfter;

  /**
   * @param retryAfter the earliest time after which the same request may pass, {@code >= 0}; for
   *     {@link Limit#CONCURRENT_REQUESTS} it is zero, since a slot frees when one of the caller's requests ends
   * @param detail the limit's value, with units, for the message
   */
  public RateLimitExceededException(String callerKey, Limit limit, Duration retryAfter, String detail) {
    super(message(callerKey, limit, retryAfter, detail), null, false, false);
    this.callerKey = callerKey;
    this.limit = limit;
    this.retryAfter = retryAfter;
  }

  private static String message(String callerKey, Limit limit, Duration retryAfter, String detail) {
    Objects.requireNonNull(callerKey, "callerKey must not be null");
    Objects.requireNonNull(limit, "limit must not be null");
    Objects.requireNonNull(retryAfter, "retryAfter must not be null");
    if (retryAfter.isNegative()) {
      throw new IllegalArgumentException("retryAfter (" + retryAfter + ") must be >= 0");
    }
    return String.format("caller '%s' is over its %s limit (%s); retry after %d ms", callerKey,
        limit.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '), detail, retryAfter.toMillis());
  }

  public String callerKey() {
    return callerKey;
  }

  public Limit limit() {
    return limit;
  }

  /** When a retry may pass; never negative. */
  public Duration retryAfter() {
    return retryAfter;
  }
}

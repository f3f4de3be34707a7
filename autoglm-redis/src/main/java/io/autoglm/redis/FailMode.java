package io.autoglm.redis;

/**
 * What a Redis-backed SPI does when Redis does not answer within its command timeout (down, unreachable, slow).
 */
public enum FailMode {
  /**
   * Carry on without Redis: the rate limiter admits through its local fallback limiter (default: everything), the
   * cache answers as a miss and the model generates. Availability over strict limits.
   */
  OPEN,
  /**
   * Refuse: the rate limiter and the cache fail the request with {@link RedisUnavailableException} (HTTP 503 in the
   * starter). Strict limits over availability.
   */
  CLOSED
}

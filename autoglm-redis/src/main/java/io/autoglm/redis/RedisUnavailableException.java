package io.autoglm.redis;

import io.autoglm.OverloadedException;

/**
 * Redis did not answer in time and the SPI is {@link FailMode#CLOSED}: the request was refused before it reached the
 * engine, and nothing of it was kept. An {@link OverloadedException}, so servers answer 503 with a retry hint.
 */
public final class RedisUnavailableException extends OverloadedException {
  private static final long serialVersionUID = 1L;

  public RedisUnavailableException(String message, Throwable cause) {
    super(message);
    initCause(cause);
  }
}

package io.autoglm.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;

/**
 * Lettuce clients set up for the SPIs: while disconnected, commands are rejected at once instead of queued (a caller
 * never waits for a reconnect), every command times out after the command timeout, and the client reconnects in
 * the background.
 */
final class RedisConnections {
  private RedisConnections() {}

  static RedisClient client(RedisURI uri, Duration commandTimeout) {
    RedisClient client = RedisClient.create(uri);
    client.setOptions(ClientOptions.builder()
        .autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
        .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(2)).build())
        .build());
    return client;
  }

  /** Connects now; a Redis that is down at startup fails here (fail fast), not at the first request. */
  static StatefulRedisConnection<String, String> connect(RedisClient client) {
    return client.connect();
  }
}

package io.autoglm.redis;

import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.spi.RateLimitExceededException.Limit;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.RateLimits;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link RateLimits} shared by every instance that points at one Redis: the same token buckets and concurrency cap
 * as {@link RateLimiter#tokenBucket}, kept in Redis and checked and charged by one Lua script per request (all or
 * nothing, on Redis's clock).
 *
 * <p>Threads: {@link #acquire} runs on the caller's thread (the engine calls it in {@code submit}) and waits for Redis
 * at most {@link RedisOptions#commandTimeout()}; {@link Permit#release} sends its script and returns at once. When
 * Redis does not answer in time, {@link FailMode#OPEN} admits through the fallback limiter and
 * {@link FailMode#CLOSED} throws {@link RedisUnavailableException}. A permit whose release is lost (an outage, a
 * crashed instance) frees its concurrency slot when its lease ends ({@link Builder#permitLease}, default 10 min); its
 * unused tokens are not given back.
 */
public final class RedisRateLimiter implements RateLimiter, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisRateLimiter.class);
  private static final double MS_PER_MINUTE = 60_000;

  private final StatefulRedisConnection<String, String> connection;
  private final Optional<RedisClient> ownedClient;
  private final RateLimits limits;
  private final RedisOptions options;
  private final RateLimiter fallback;
  private final long leaseMs;
  private final long idleMs;
  private final AtomicLong unavailable = new AtomicLong();
  private final AtomicLong lastWarnMillis = new AtomicLong();
  private final Optional<LongSupplier> clock;

  private RedisRateLimiter(StatefulRedisConnection<String, String> connection, Optional<RedisClient> ownedClient,
      RateLimits limits, RedisOptions options, RateLimiter fallback, Duration permitLease,
      Optional<LongSupplier> clock) {
    this.clock = clock;
    this.connection = connection;
    this.ownedClient = ownedClient;
    this.limits = limits;
    this.options = options;
    this.fallback = fallback;
    this.leaseMs = Math.max(1, permitLease.toMillis());
    double refillMs = 0;
    if (limits.limitsRequests()) {
      refillMs = Math.max(refillMs, limits.requestBurst() * MS_PER_MINUTE / limits.requestsPerMinute());
    }
    if (limits.limitsTokens()) {
      refillMs = Math.max(refillMs, limits.tokenBurst() * MS_PER_MINUTE / limits.tokensPerMinute());
    }
    this.idleMs = (long) Math.min(Long.MAX_VALUE / 2, Math.ceil(refillMs) + 1000);
  }

  public static Builder builder() {
    return new Builder();
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
    String permitId = UUID.randomUUID().toString();
    List<Object> reply;
    RedisFuture<List<Object>> future = null;
    try {
      future = connection.async().eval(RateLimitScripts.ACQUIRE, ScriptOutputType.MULTI, keys(callerKey),
          args(Long.toString(reservedTokens),
              Integer.toString(limits.limitsConcurrency() ? limits.maxConcurrentRequests() : 0), permitId,
              Long.toString(leaseMs), Long.toString(idleMs)));
      reply = future.get(options.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return unavailable(callerKey, reservedTokens, future, e);
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      return unavailable(callerKey, reservedTokens, future, e);
    }
    long code = (Long) reply.get(0);
    long retryMs = (Long) reply.get(1);
    if (code == 0) {
      return new RedisPermit(callerKey, permitId, reservedTokens);
    }
    throw rejection(callerKey, code, retryMs, reservedTokens);
  }

  private RateLimitExceededException rejection(String callerKey, long code, long retryMs, long reservedTokens) {
    if (code == 3) {
      return new RateLimitExceededException(callerKey, Limit.CONCURRENT_REQUESTS, Duration.ZERO,
          limits.maxConcurrentRequests() + " requests in flight across all instances");
    }
    if (code == 1) {
      return new RateLimitExceededException(callerKey, Limit.REQUESTS_PER_MINUTE, Duration.ofMillis(retryMs),
          String.format("%d requests/min, burst %d", limits.requestsPerMinute(), limits.requestBurst()));
    }
    return new RateLimitExceededException(callerKey, Limit.TOKENS_PER_MINUTE, Duration.ofMillis(retryMs),
        String.format("%d tokens/min, burst %d; %d requested", limits.tokensPerMinute(), limits.tokenBurst(),
            reservedTokens));
  }

  /** Redis did not answer: the fail mode decides. */
  private Permit unavailable(String callerKey, long reservedTokens, RedisFuture<?> future, Throwable cause) {
    if (future != null) {
      future.cancel(true); // not sent yet: never sent, so a refused request is not charged later
    }
    unavailable.incrementAndGet();
    Throwable root = cause instanceof ExecutionException && cause.getCause() != null ? cause.getCause() : cause;
    warn("rate limiter: Redis did not answer within {} ({}); failing {}", options.commandTimeout(), root);
    if (options.failMode() == FailMode.CLOSED) {
      throw new RedisUnavailableException(String.format(
          "the shared rate limiter is unavailable (Redis did not answer within %d ms: %s) and fails closed; "
              + "retry shortly", options.commandTimeout().toMillis(), root), root);
    }
    return fallback.acquire(callerKey, reservedTokens);
  }

  private void warn(String format, Duration timeout, Throwable root) {
    long now = System.currentTimeMillis();
    long last = lastWarnMillis.get();
    if (now - last >= 10_000 && lastWarnMillis.compareAndSet(last, now)) { // at most one line per 10 s
      LOG.warn(format, timeout, root.toString(), options.failMode() == FailMode.OPEN ? "open" : "closed");
    }
  }

  /** Acquisitions Redis did not answer in time, since this limiter was built. */
  public long unavailableCount() {
    return unavailable.get();
  }

  public RateLimits limits() {
    return limits;
  }

  private String[] keys(String callerKey) {
    String base = options.keyPrefix() + "rl:{" + callerKey + "}";
    return new String[] {base + ":b", base + ":c"};
  }

  private String[] args(String... rest) {
    String now = clock.map(c -> Long.toString(Math.floorDiv(c.getAsLong(), 1_000_000L))).orElse("");
    String[] head = {limits.limitsRequests() ? "1" : "0",
        Double.toString(limits.requestsPerMinute() / MS_PER_MINUTE), Long.toString(limits.requestBurst()),
        limits.limitsTokens() ? "1" : "0", Double.toString(limits.tokensPerMinute() / MS_PER_MINUTE),
        Long.toString(limits.tokenBurst())};
    String[] all = new String[head.length + rest.length + 1];
    System.arraycopy(head, 0, all, 0, head.length);
    System.arraycopy(rest, 0, all, head.length, rest.length);
    all[all.length - 1] = now; // the scripts read the clock from the last argument
    return all;
  }

  /** Closes the connection when this limiter opened it ({@link Builder#uri}); a given connection is left open. */
  @Override
  public void close() {
    ownedClient.ifPresent(c -> {
      connection.close();
      c.shutdown();
    });
  }

  private final class RedisPermit implements Permit {
    private final String callerKey;
    private final String permitId;
    private final long reservedTokens;
    private final AtomicBoolean released = new AtomicBoolean();

    RedisPermit(String callerKey, String permitId, long reservedTokens) {
      this.callerKey = callerKey;
      this.permitId = permitId;
      this.reservedTokens = reservedTokens;
    }

    @Override
    public long reservedTokens() {
      return reservedTokens;
    }

    /** Sends the release and returns at once; a lost release is logged and its lease frees the slot later. */
    @Override
    public void release(long actualTokens) {
      if (actualTokens < 0) {
        throw new IllegalArgumentException("actualTokens (" + actualTokens + ") must be >= 0");
      }
      if (!released.compareAndSet(false, true)) {
        return;
      }
      try {
        connection.async().eval(RateLimitScripts.RELEASE, ScriptOutputType.INTEGER, keys(callerKey),
            args(Long.toString(reservedTokens - actualTokens), permitId, Long.toString(idleMs)))
            .exceptionally(e -> {
              LOG.debug("rate limiter: release of a permit of '{}' was lost ({}); its lease frees it", callerKey,
                  e.toString());
              return null;
            });
      } catch (RuntimeException e) {
        LOG.debug("rate limiter: release of a permit of '{}' was lost ({}); its lease frees it", callerKey,
            e.toString());
      }
    }
  }

  /** Builds a {@link RedisRateLimiter}: a connection (or a URI), the limits; the rest has defaults. */
  public static final class Builder {
    private StatefulRedisConnection<String, String> connection;
    private RedisURI uri;
    private RateLimits limits;
    private RedisOptions options = RedisOptions.defaults();
    private RateLimiter fallback = RateLimiter.unlimited();
    private Duration permitLease = Duration.ofMinutes(10);
    private Optional<LongSupplier> clock = Optional.empty();

    private Builder() {}

    /**
     * Refills the buckets by this monotonic nanosecond clock instead of Redis's ({@code TIME}). Only where every
     * instance reads one clock (tests with a fake clock, one instance): two hosts' clocks do not agree.
     */
    public Builder clock(LongSupplier nanoTime) {
      this.clock = Optional.of(Objects.requireNonNull(nanoTime, "nanoTime must not be null"));
      return this;
    }

    /** Connects to this Redis when built (and closes the connection with the limiter). */
    public Builder uri(RedisURI uri) {
      this.uri = Objects.requireNonNull(uri, "uri must not be null");
      return this;
    }

    /** Uses this connection; its owner closes it. Prefer {@link #uri}: it sets up timeouts and reconnects. */
    public Builder connection(StatefulRedisConnection<String, String> connection) {
      this.connection = Objects.requireNonNull(connection, "connection must not be null");
      return this;
    }

    public Builder limits(RateLimits limits) {
      this.limits = Objects.requireNonNull(limits, "limits must not be null");
      return this;
    }

    public Builder options(RedisOptions options) {
      this.options = Objects.requireNonNull(options, "options must not be null");
      return this;
    }

    /** Admits while Redis is unavailable under {@link FailMode#OPEN} (default: everything). */
    public Builder fallback(RateLimiter fallback) {
      this.fallback = Objects.requireNonNull(fallback, "fallback must not be null");
      return this;
    }

    /** How long a permit holds its concurrency slot at most when its release never arrives (default 10 min). */
    public Builder permitLease(Duration permitLease) {
      Objects.requireNonNull(permitLease, "permitLease must not be null");
      if (permitLease.toMillis() < 1) {
        throw new IllegalArgumentException("permitLease (" + permitLease + ") must be >= 1 ms");
      }
      this.permitLease = permitLease;
      return this;
    }

    /** @throws io.lettuce.core.RedisConnectionException when {@link #uri} is given and Redis cannot be reached */
    public RedisRateLimiter build() {
      if (limits == null) {
        throw new IllegalStateException("limits are not set");
      }
      if ((uri == null) == (connection == null)) {
        throw new IllegalStateException("set exactly one of uri(…) and connection(…)");
      }
      if (connection != null) {
        return new RedisRateLimiter(connection, Optional.empty(), limits, options, fallback, permitLease, clock);
      }
      RedisClient client = RedisConnections.client(uri, options.commandTimeout());
      try {
        return new RedisRateLimiter(RedisConnections.connect(client), Optional.of(client), limits, options,
            fallback, permitLease, clock);
      } catch (RuntimeException e) {
        client.shutdown();
        throw e;
      }
    }
  }
}

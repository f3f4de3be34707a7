package io.autoglm.redis;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.ResponseCache;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ResponseCache} in Redis, shared by every instance that points at it: a response one instance generated
 * answers the same request on the others until its TTL ends.
 *
 * <p>Contract as {@link ResponseCache}, with one scope: identical requests in flight share one generation within an
 * instance; across instances, two that miss at the same moment both generate (the later write wins; both results
 * are equal for a deterministic request on one backend).
 *
 * <p>Threads: the lookup ({@code GET}) runs on the caller's thread (the engine calls the cache in {@code submit}) and
 * waits at most {@link RedisOptions#commandTimeout()}; the write ({@code SET … PX ttl}) is sent when the generation
 * completes and never waited for (until Redis has it, this instance answers from the result it holds). When the lookup does not answer in time, {@link FailMode#OPEN} generates as on a
 * miss and {@link FailMode#CLOSED} fails the request with {@link RedisUnavailableException}. A stored value this
 * version cannot read counts as a miss (and is overwritten).
 */
public final class RedisResponseCache implements ResponseCache, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RedisResponseCache.class);

  private final StatefulRedisConnection<String, String> connection;
  private final Optional<RedisClient> ownedClient;
  private final RedisOptions options;
  private final Duration ttl;
  private final Map<String, CompletableFuture<GenerationResult>> inFlight = new ConcurrentHashMap<>();
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();
  private final AtomicLong unavailable = new AtomicLong();

  private RedisResponseCache(StatefulRedisConnection<String, String> connection, Optional<RedisClient> ownedClient,
      RedisOptions options, Duration ttl) {
    this.connection = connection;
    this.ownedClient = ownedClient;
    this.options = options;
    this.ttl = ttl;
  }

  /**
   * Connects to {@code uri} now (closed with the cache).
   *
   * @param ttl how long a response stays in Redis after it is written
   * @throws io.lettuce.core.RedisConnectionException when Redis cannot be reached
   */
  public static RedisResponseCache connect(RedisURI uri, Duration ttl, RedisOptions options) {
    checkTtl(ttl);
    Objects.requireNonNull(options, "options must not be null");
    RedisClient client = RedisConnections.client(Objects.requireNonNull(uri, "uri must not be null"),
        options.commandTimeout());
    try {
      return new RedisResponseCache(RedisConnections.connect(client), Optional.of(client), options, ttl);
    } catch (RuntimeException e) {
      client.shutdown();
      throw e;
    }
  }

  /** Over a connection its owner closes. */
  public static RedisResponseCache over(StatefulRedisConnection<String, String> connection, Duration ttl,
      RedisOptions options) {
    checkTtl(ttl);
    return new RedisResponseCache(Objects.requireNonNull(connection, "connection must not be null"),
        Optional.empty(), Objects.requireNonNull(options, "options must not be null"), ttl);
  }

  private static void checkTtl(Duration ttl) {
    Objects.requireNonNull(ttl, "ttl must not be null");
    if (ttl.toMillis() < 1) {
      throw new IllegalArgumentException("ttl (" + ttl + ") must be >= 1 ms");
    }
  }

  @Override
  public CompletableFuture<GenerationResult> getOrCompute(ResponseCache.Key key,
      Supplier<CompletableFuture<GenerationResult>> generation) {
    Objects.requireNonNull(key, "key must not be null");
    Objects.requireNonNull(generation, "generation must not be null");
    String redisKey = options.keyPrefix() + "rc:" + ResultCodec.digest(key);
    CompletableFuture<GenerationResult> mine = new CompletableFuture<>();
    CompletableFuture<GenerationResult> shared = inFlight.putIfAbsent(redisKey, mine);
    if (shared != null) {
      hits.incrementAndGet();
      return shared.copy();
    }
    try {
      Optional<GenerationResult> stored = lookup(redisKey);
      if (stored.isPresent()) {
        hits.incrementAndGet();
        inFlight.remove(redisKey, mine);
        mine.complete(stored.get());
        return mine.copy();
      }
      misses.incrementAndGet();
      CompletableFuture<GenerationResult> generated = generation.get();
      if (generated == null) {
        throw new IllegalStateException("generation returned null; it must return a future");
      }
      generated.whenComplete((r, e) -> {
        if (r != null && keepable(r)) {
          // Answered locally until Redis has it, so this instance never misses its own fresh result.
          store(redisKey, r).whenComplete((ok, failed) -> inFlight.remove(redisKey, mine));
        } else {
          inFlight.remove(redisKey, mine);
        }
        if (e != null) {
          mine.completeExceptionally(e);
        } else {
          mine.complete(r);
        }
      });
      return mine.copy();
    } catch (RuntimeException e) {
      inFlight.remove(redisKey, mine);
      mine.completeExceptionally(e);
      return mine.copy();
    }
  }

  /** The stored result; empty on a miss, or on an outage under {@link FailMode#OPEN}. */
  private Optional<GenerationResult> lookup(String redisKey) {
    RedisFuture<String> future = null;
    String value;
    try {
      future = connection.async().get(redisKey);
      value = future.get(options.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return unavailable(future, e);
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      return unavailable(future, e);
    }
    if (value == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(ResultCodec.decode(value));
    } catch (IllegalArgumentException e) {
      LOG.warn("response cache: ignoring the value at {}: {}", redisKey, e.getMessage());
      return Optional.empty();
    }
  }

  private Optional<GenerationResult> unavailable(RedisFuture<?> future, Throwable cause) {
    if (future != null) {
      future.cancel(true);
    }
    unavailable.incrementAndGet();
    Throwable root = cause instanceof ExecutionException && cause.getCause() != null ? cause.getCause() : cause;
    LOG.debug("response cache: Redis did not answer within {} ({})", options.commandTimeout(), root.toString());
    if (options.failMode() == FailMode.CLOSED) {
      throw new RedisUnavailableException(String.format(
          "the shared response cache is unavailable (Redis did not answer within %d ms: %s) and fails closed; "
              + "retry shortly", options.commandTimeout().toMillis(), root), root);
    }
    return Optional.empty();
  }

  /** Sends the write; the returned stage completes (never exceptionally) once Redis answered or gave up. */
  private CompletableFuture<Void> store(String redisKey, GenerationResult result) {
    try {
      return connection.async().set(redisKey, ResultCodec.encode(result), SetArgs.Builder.px(ttl.toMillis()))
          .toCompletableFuture().handle((ok, e) -> {
            if (e != null) {
              LOG.debug("response cache: write of {} was lost: {}", redisKey, e.toString());
            }
            return null;
          });
    } catch (RuntimeException e) {
      LOG.debug("response cache: write of {} was lost: {}", redisKey, e.toString());
      return CompletableFuture.completedFuture(null);
    }
  }

  private static boolean keepable(GenerationResult result) {
    return result.finishReason() != FinishReason.CANCELLED && result.finishReason() != FinishReason.TIMEOUT
        && result.finishReason() != FinishReason.ERROR;
  }

  /** Hits (stored or coalesced) and misses of this instance; evictions are Redis's and count 0 here. */
  @Override
  public Optional<ResponseCache.Stats> stats() {
    return Optional.of(new ResponseCache.Stats(hits.get(), misses.get(), 0));
  }

  /** Lookups Redis did not answer in time, since this cache was built. */
  public long unavailableCount() {
    return unavailable.get();
  }

  /** Closes the connection when {@link #connect} opened it. */
  @Override
  public void close() {
    ownedClient.ifPresent(c -> {
      connection.close();
      c.shutdown();
    });
  }
}

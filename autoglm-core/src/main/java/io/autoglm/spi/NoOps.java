package io.autoglm.spi;

import io.autoglm.GenerationResult;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** The do-nothing defaults behind {@link ResponseCache#none()}, {@link RateLimiter#unlimited()} and
 * {@link EngineMetrics#none()}: singletons, so the engine can test {@code ==} and the JIT sees one empty target. */
final class NoOps {
  static final ResponseCache RESPONSE_CACHE = new ResponseCache() {
    @Override
    public CompletableFuture<GenerationResult> getOrCompute(ResponseCache.Key key,
        Supplier<CompletableFuture<GenerationResult>> generation) {
      try {
        return Objects.requireNonNull(generation.get(), "generation returned null; it must return a future");
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }

    @Override
    public String toString() {
      return "ResponseCache.none()";
    }
  };

  static final RateLimiter RATE_LIMITER = new RateLimiter() {
    @Override
    public Permit acquire(String callerKey, long reservedTokens) {
      Objects.requireNonNull(callerKey, "callerKey must not be null");
      if (reservedTokens < 0) {
        throw new IllegalArgumentException("reservedTokens (" + reservedTokens + ") must be >= 0");
      }
      return new UnlimitedPermit(reservedTokens);
    }

    @Override
    public String toString() {
      return "RateLimiter.unlimited()";
    }
  };

  static final EngineMetrics ENGINE_METRICS = new EngineMetrics() {
    @Override
    public String toString() {
      return "EngineMetrics.none()";
    }
  };

  private NoOps() {}

  private record UnlimitedPermit(long reservedTokens) implements RateLimiter.Permit {
    @Override
    public void release(long actualTokens) {
      if (actualTokens < 0) {
        throw new IllegalArgumentException("actualTokens (" + actualTokens + ") must be >= 0");
      }
    }
  }
}

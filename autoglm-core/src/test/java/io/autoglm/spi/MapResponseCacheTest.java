package io.autoglm.spi;

import io.autoglm.FinishReason;
import io.autoglm.GenerationResult;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/** A second, minimal cache (an unbounded map of futures) held to the same contract. */
class MapResponseCacheTest extends ResponseCacheContract {

  static final class MapResponseCache implements ResponseCache {
    private final ConcurrentHashMap<ResponseCache.Key, CompletableFuture<GenerationResult>> map = new ConcurrentHashMap<>();

    @Override
    public CompletableFuture<GenerationResult> getOrCompute(ResponseCache.Key key,
        Supplier<CompletableFuture<GenerationResult>> generation) {
      CompletableFuture<GenerationResult> shared;
      try {
        shared = map.computeIfAbsent(key, k -> generation.get());
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
      shared.whenComplete((r, e) -> {
        if (e != null || r.finishReason() == FinishReason.CANCELLED || r.finishReason() == FinishReason.TIMEOUT) {
          map.remove(key, shared);
        }
      });
      return shared.copy();
    }
  }

  @Override
  protected ResponseCache newCache() {
    return new MapResponseCache();
  }
}

package io.autoglm.spi;

/**
 * Counters of a {@link ResponseCache} since it was built.
 *
 * @param hitCount lookups answered by a stored or in-flight response (a coalesced request counts as a hit)
 * @param missCount lookups that started a generation
 * @param evictionCount entries removed for size or age (failed generations are not counted)
 */
public record ResponseCacheStats(long hitCount, long missCount, long evictionCount) {
  public ResponseCacheStats {
    if (hitCount < 0 || missCount < 0 || evictionCount < 0) {
      throw new IllegalArgumentException(String.format(
          "cache stats must be >= 0: hitCount %d, missCount %d, evictionCount %d", hitCount, missCount,
          evictionCount));
    }
  }

  /** Hits over lookups; 0 before the first lookup. */
  public double hitRate() {
    long lookups = hitCount + missCount;
    return lookups == 0 ? 0 : (double) hitCount / lookups;
  }
}

package io.autoglm.cuda;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The captured decode graphs of one backend, keyed by bucket and KV cache: at most {@code maxGraphs}, the least
 * recently used destroyed beyond that, and the keys seen once (a key's first step runs eagerly as the warm-up before
 * its capture). Invariant: every graph held here is instantiated and destroyed exactly once, by {@link #put}'s
 * eviction, {@link #dropKv}, {@link #clear} or {@link #close}.
 */
final class GraphCache implements AutoCloseable {
  private static final AtomicInteger CAPTURED = new AtomicInteger();

  /**
   * Identifies a captured decode graph: the padded token count (a batch bucket) and the KV cache. Block-table width
   * and context length are not part of it, so a model has at most one graph per bucket: with
   * {@code maxRunningSequences} 256, 17 graphs ({@link CudaForwardStep#bucket}).
   */
  record Key(int paddedTokens, long kvId) {}

  /** An instantiated graph and the fingerprint of the op sequence it was captured from. */
  record Graph(long exec, long fingerprint, int ops) {}

  private final int maxGraphs;
  private final Map<Key, Graph> graphs = new LinkedHashMap<>(16, 0.75f, true); // access order: LRU first
  private final Set<Key> warmedUp = new HashSet<>();

  GraphCache(int maxGraphs) {
    this.maxGraphs = maxGraphs;
  }

  Graph get(Key key) {
    return graphs.get(key);
  }

  /** True the first time a key is seen: that step runs eagerly, as the warm-up before a capture. */
  boolean firstSight(Key key) {
    return warmedUp.add(key);
  }

  void put(Key key, Graph graph) {
    CAPTURED.incrementAndGet();
    graphs.put(key, graph);
    var it = graphs.entrySet().iterator();
    while (graphs.size() > maxGraphs) { // least recently used first; only with more buckets than cuda.maxGraphs
      var e = it.next();
      CudaNative.destroyGraph(e.getValue().exec());
      warmedUp.remove(e.getKey());
      it.remove();
    }
  }

  /** Destroys every graph and forgets the warm-ups (the caller has synchronized the stream). */
  void clear() {
    graphs.values().forEach(g -> CudaNative.destroyGraph(g.exec()));
    graphs.clear();
    warmedUp.clear();
  }

  /** Destroys the graphs of a KV cache that is being freed. */
  void dropKv(long kvId) {
    graphs.entrySet().removeIf(e -> {
      if (e.getKey().kvId() == kvId) {
        CudaNative.destroyGraph(e.getValue().exec());
        return true;
      }
      return false;
    });
    warmedUp.removeIf(k -> k.kvId() == kvId);
  }

  int size() {
    return graphs.size();
  }

  /** CUDA graphs captured by every CUDA backend of this JVM so far. */
  static int capturedTotal() {
    return CAPTURED.get();
  }

  @Override
  public void close() {
    graphs.values().forEach(g -> CudaNative.destroyGraph(g.exec()));
    graphs.clear();
  }
}

package io.autoglm.kv;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The KV cache's memory manager: fixed-size blocks with reference counts and a hash index of full blocks for
 * prefix reuse.
 *
 * <p>Invariants: block 0 is the null block (a padding target; never handed out, never counted); every other block
 * is either in use (refCount ≥ 1) or in the free queue (refCount 0), so {@code free + used = numBlocks - 1}. The
 * free queue is in eviction order: least recently freed first. A free block may still hold a cached full block
 * (findable by its hash) until it is taken for new data, which evicts it.
 */
public final class BlockPool {
  public static final int NULL_BLOCK = 0;

  private final int numBlocks;
  private final int[] refCounts;
  private final LinkedHashSet<Integer> freeQueue = new LinkedHashSet<>();
  private final Map<BlockKey, Integer> cached = new HashMap<>();
  private final BlockKey[] keyOfBlock;

  /** What a full block holds: the chain hash of its prefix and its own tokens (compared, so no hash collisions). */
  public record BlockKey(long hash, int[] tokens) {
    @Override
    public boolean equals(Object o) {
      return o instanceof BlockKey k && k.hash == hash && Arrays.equals(k.tokens, tokens);
    }

    @Override
    public int hashCode() {
      return Long.hashCode(hash);
    }
  }

  public BlockPool(int numBlocks) {
    if (numBlocks < 2) {
      throw new IllegalArgumentException("numBlocks (" + numBlocks + ") must be >= 2: block 0 is the null block");
    }
    this.numBlocks = numBlocks;
    this.refCounts = new int[numBlocks];
    this.keyOfBlock = new BlockKey[numBlocks];
    for (int b = 1; b < numBlocks; b++) {
      freeQueue.add(b);
    }
  }

  public int numBlocks() {
    return numBlocks;
  }

  public int numFreeBlocks() {
    return freeQueue.size();
  }

  public int numUsedBlocks() {
    return numBlocks - 1 - freeQueue.size();
  }

  /** Share of usable blocks in use, in [0, 1]. */
  public double usage() {
    return (double) numUsedBlocks() / (numBlocks - 1);
  }

  public int refCount(int block) {
    return refCounts[block];
  }

  /** Takes {@code n} blocks from the head of the free queue, evicting their cached contents; empty if too few. */
  public Optional<List<Integer>> allocate(int n) {
    if (n > freeQueue.size()) {
      return Optional.empty();
    }
    List<Integer> out = new ArrayList<>(n);
    Iterator<Integer> it = freeQueue.iterator();
    for (int i = 0; i < n; i++) {
      int b = it.next();
      it.remove();
      evict(b);
      refCounts[b] = 1;
      out.add(b);
    }
    return Optional.of(out);
  }

  private void evict(int block) {
    BlockKey key = keyOfBlock[block];
    if (key != null) {
      cached.remove(key);
      keyOfBlock[block] = null;
    }
  }

  /** Finds a cached full block and takes a reference to it (removing it from the free queue if it was free). */
  public Optional<Integer> lookup(BlockKey key) {
    Integer b = cached.get(key);
    if (b == null) {
      return Optional.empty();
    }
    if (refCounts[b] == 0) {
      freeQueue.remove(b);
    }
    refCounts[b]++;
    return Optional.of(b);
  }

  /** Records that {@code block}, now full, holds {@code key}. A block already cached under another key keeps it. */
  public void cache(int block, BlockKey key) {
    checkInUse(block);
    if (keyOfBlock[block] != null || cached.containsKey(key)) {
      return;
    }
    keyOfBlock[block] = key;
    cached.put(key, block);
  }

  /** Drops one reference; a block reaching 0 goes to the tail of the free queue (cached contents kept). */
  public void release(int block) {
    checkInUse(block);
    if (--refCounts[block] == 0) {
      freeQueue.add(block);
    }
  }

  /** Free queue, head first: the next blocks {@link #allocate} hands out. */
  List<Integer> freeQueueSnapshot() {
    return List.copyOf(freeQueue);
  }

  private void checkInUse(int block) {
    if (block <= NULL_BLOCK || block >= numBlocks) {
      throw new IllegalArgumentException("block " + block + " is not in [1, " + numBlocks + ")");
    }
    if (refCounts[block] <= 0) {
      throw new IllegalStateException("block " + block + " is not in use (refCount " + refCounts[block] + ")");
    }
  }

  /**
   * Checks the accounting against {@code expectedRefs} (block → references the sequences hold).
   *
   * @throws IllegalStateException naming the first inconsistency
   */
  public void checkInvariants(int[] expectedRefs) {
    int used = 0;
    for (int b = 1; b < numBlocks; b++) {
      if (refCounts[b] < 0) {
        throw new IllegalStateException("block " + b + " has negative refCount " + refCounts[b]);
      }
      if (refCounts[b] != expectedRefs[b]) {
        throw new IllegalStateException("block " + b + " has refCount " + refCounts[b] + " but "
            + expectedRefs[b] + " sequences hold it");
      }
      boolean free = freeQueue.contains(b);
      if (free == (refCounts[b] > 0)) {
        throw new IllegalStateException("block " + b + " with refCount " + refCounts[b]
            + (free ? " is" : " is not") + " in the free queue");
      }
      used += refCounts[b] > 0 ? 1 : 0;
    }
    if (refCounts[NULL_BLOCK] != 0 || freeQueue.contains(NULL_BLOCK)) {
      throw new IllegalStateException("null block 0 was handed out or freed");
    }
    if (used + freeQueue.size() != numBlocks - 1) {
      throw new IllegalStateException("free (" + freeQueue.size() + ") + used (" + used + ") != " + (numBlocks - 1));
    }
  }
}

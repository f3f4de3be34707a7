package io.autoglm.kv;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Maps sequences to KV blocks: allocates the slots a step needs, reuses cached blocks of a shared prefix, and
 * publishes full blocks to the prefix cache. The scheduler sees only {@link SequenceBlocks}, never the pool.
 */
public final class KvCacheManager {
  private final BlockPool pool;
  private final int blockSizeTokens;
  private final boolean prefixCaching;

  public KvCacheManager(BlockPool pool, int blockSizeTokens, boolean prefixCaching) {
    if (blockSizeTokens < 1) {
      throw new IllegalArgumentException("blockSizeTokens (" + blockSizeTokens + ") must be >= 1");
    }
    this.pool = pool;
    this.blockSizeTokens = blockSizeTokens;
    this.prefixCaching = prefixCaching;
  }

  public boolean prefixCaching() {
    return prefixCaching;
  }

  public int blockSizeTokens() {
    return blockSizeTokens;
  }

  /** The pool itself, for this package's tests; the scheduler goes through the methods below. */
  BlockPool pool() {
    return pool;
  }

  /** Used blocks over usable ones (the null block excluded), in [0, 1]. */
  public double usage() {
    return pool.usage();
  }

  /** Blocks in the pool, the null block included. */
  public int numBlocks() {
    return pool.numBlocks();
  }

  /**
   * Audits the pool: each block's ref count equals {@code expectedRefs[block]} and free + used = total - 1.
   *
   * @throws IllegalStateException naming the first inconsistency
   */
  public void checkInvariants(int[] expectedRefs) {
    pool.checkInvariants(expectedRefs);
  }

  /** The blocks of one sequence, and how many of them are published to the prefix cache. */
  public static final class SequenceBlocks {
    private final List<Integer> blocks = new ArrayList<>();
    private final List<Long> hashes = new ArrayList<>(); // chain hash of each published full block
    private int[] table; // blocks as an array, built on demand; null after every change of blocks

    /** The block ids, in position order (a read-only view). */
    public List<Integer> blocks() {
      return java.util.Collections.unmodifiableList(blocks);
    }

    /** Full blocks already published to the prefix cache. */
    public int numPublished() {
      return hashes.size();
    }

    /** The block ids as an array, shared until the blocks change: callers must not modify it. */
    public int[] table() {
      int[] t = table;
      if (t == null) {
        t = new int[blocks.size()];
        for (int i = 0; i < t.length; i++) {
          t[i] = blocks.get(i);
        }
        table = t;
      }
      return t;
    }
  }

  /**
   * Takes cached blocks for the longest cached prefix of {@code tokens}, leaving at least the last token to compute
   * (its logits are needed). Returns the number of tokens whose KV is now present.
   */
  public int matchPrefix(SequenceBlocks seq, int[] tokens) {
    if (!prefixCaching || !seq.blocks.isEmpty()) {
      return 0;
    }
    int maxBlocks = (tokens.length - 1) / blockSizeTokens;
    long parent = 0;
    for (int i = 0; i < maxBlocks; i++) {
      BlockPool.BlockKey key = key(parent, tokens, i);
      Optional<Integer> hit = pool.lookup(key);
      if (hit.isEmpty()) {
        break;
      }
      seq.blocks.add(hit.get());
      seq.table = null;
      seq.hashes.add(key.hash());
      parent = key.hash();
    }
    return seq.blocks.size() * blockSizeTokens;
  }

  /** Ensures slots for positions [0, totalTokens); false (and nothing taken) when the pool has too few blocks. */
  public boolean allocate(SequenceBlocks seq, int totalTokens) {
    int needed = (totalTokens + blockSizeTokens - 1) / blockSizeTokens - seq.blocks.size();
    if (needed <= 0) {
      return true;
    }
    Optional<List<Integer>> got = pool.allocate(needed);
    got.ifPresent(seq.blocks::addAll);
    seq.table = null;
    return got.isPresent();
  }

  /** How many more blocks {@link #allocate} would take for {@code totalTokens}. */
  public int blocksNeeded(SequenceBlocks seq, int totalTokens) {
    return Math.max(0, (totalTokens + blockSizeTokens - 1) / blockSizeTokens - seq.blocks.size());
  }

  /** Publishes every full block among the first {@code computedTokens} of {@code tokens}. */
  public void publishFullBlocks(SequenceBlocks seq, int[] tokens, int computedTokens) {
    if (!prefixCaching) {
      return;
    }
    int full = computedTokens / blockSizeTokens;
    for (int i = seq.hashes.size(); i < full; i++) {
      long parent = i == 0 ? 0 : seq.hashes.get(i - 1);
      BlockPool.BlockKey key = key(parent, tokens, i);
      pool.cache(seq.blocks.get(i), key);
      seq.hashes.add(key.hash());
    }
  }

  /** Releases every block, last first, so a sequence's tail is evicted before its shared prefix. */
  public void free(SequenceBlocks seq) {
    for (int i = seq.blocks.size() - 1; i >= 0; i--) {
      pool.release(seq.blocks.get(i));
    }
    seq.blocks.clear();
    seq.table = null;
    seq.hashes.clear();
  }

  private BlockPool.BlockKey key(long parent, int[] tokens, int blockIndex) {
    int[] own = java.util.Arrays.copyOfRange(tokens, blockIndex * blockSizeTokens, (blockIndex + 1) * blockSizeTokens);
    long h = parent * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
    for (int t : own) {
      h = (h ^ t) * 0xFF51AFD7ED558CCDL;
      h ^= h >>> 32;
    }
    return new BlockPool.BlockKey(h, own);
  }
}

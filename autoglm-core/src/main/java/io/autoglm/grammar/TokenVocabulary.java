package io.autoglm.grammar;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A tokenizer's vocabulary as the grammar sees it: each id's bytes, the ids that may never appear inside JSON
 * (special tokens, ids without text), the eos ids (allowed exactly when the value is complete), and the token trie.
 * Caches the token mask of each automaton state ({@link Stack}) it has seen, bounded by weight (masks of all
 * grammars share it). Thread-safe.
 */
public final class TokenVocabulary {
  private static final long MASK_CACHE_BYTES = 64L << 20;

  private final byte[][] bytes;
  private final int[] eosIds;
  private final TokenTrie trie;
  private final Cache<Stack, long[]> masks;
  private final boolean[] included;
  private final boolean cacheMasks;
  private volatile StringMasks stringMasks; // built on the first string state

  /**
   * @param bytes (vocab) the bytes each id decodes to; copied
   * @param excluded ids never allowed inside the JSON (special tokens)
   * @param eosIds ids that end generation: allowed only where the value is complete
   */
  public TokenVocabulary(byte[][] bytes, Set<Integer> excluded, List<Integer> eosIds) {
    this(bytes, excluded, eosIds, MASK_CACHE_BYTES);
  }

  /** @param maskCacheBytes masks kept at most, in bytes (0: none, every mask computed anew; benchmarks) */
  public TokenVocabulary(byte[][] bytes, Set<Integer> excluded, List<Integer> eosIds, long maskCacheBytes) {
    if (maskCacheBytes < 0) {
      throw new IllegalArgumentException("maskCacheBytes (" + maskCacheBytes + ") must be >= 0");
    }
    this.cacheMasks = maskCacheBytes > 0;
    this.bytes = new byte[bytes.length][];
    this.included = new boolean[bytes.length];
    for (int id = 0; id < bytes.length; id++) {
      this.bytes[id] = bytes[id].clone();
      included[id] = !excluded.contains(id) && !eosIds.contains(id);
    }
    for (int id : eosIds) {
      if (id < 0 || id >= bytes.length) {
        throw new IllegalArgumentException("eos id " + id + " is outside the vocabulary [0, " + bytes.length + ")");
      }
    }
    this.eosIds = eosIds.stream().mapToInt(Integer::intValue).distinct().toArray();
    this.trie = new TokenTrie(this.bytes, included);
    this.masks = Caffeine.newBuilder().maximumWeight(Math.max(maskCacheBytes, 1))
        .weigher((Stack k, long[] v) -> 64 + v.length * 8).build();
  }

  /** The vocabulary of {@code tokenizer}: its special tokens are never allowed inside the JSON. */
  public static TokenVocabulary of(io.autoglm.tokenizer.GlmTokenizer tokenizer, List<Integer> eosIds) {
    return of(tokenizer, eosIds, MASK_CACHE_BYTES);
  }

  /** As {@link #of(io.autoglm.tokenizer.GlmTokenizer, List)}, keeping at most {@code maskCacheBytes} of masks. */
  public static TokenVocabulary of(io.autoglm.tokenizer.GlmTokenizer tokenizer, List<Integer> eosIds,
      long maskCacheBytes) {
    byte[][] bytes = new byte[tokenizer.vocabSize()][];
    for (int id = 0; id < bytes.length; id++) {
      bytes[id] = tokenizer.tokenBytes(id);
    }
    return new TokenVocabulary(bytes, tokenizer.specialTokenIds(), eosIds, maskCacheBytes);
  }

  /** Number of ids; a mask has {@code (size() + 63) / 64} words. */
  public int size() {
    return bytes.length;
  }

  byte[] bytes(int id) {
    return bytes[id];
  }

  boolean isEos(int id) {
    for (int e : eosIds) {
      if (e == id) {
        return true;
      }
    }
    return false;
  }

  void markEos(long[] mask) {
    for (int e : eosIds) {
      mask[e >>> 6] |= 1L << e;
    }
  }

  /** The ids (eos excluded) whose bytes can be read from {@code state}; cached, shared: never modify it. */
  long[] mask(Stack state) {
    return cacheMasks ? masks.get(state, this::computeMask) : computeMask(state);
  }

  private long[] computeMask(Stack state) {
    if (StringMasks.handles(state)) {
      return stringMasks().mask(state);
    }
    long[] mask = new long[(bytes.length + 63) >>> 6];
    walk(0, List.of(state), mask);
    return mask;
  }

  private StringMasks stringMasks() {
    StringMasks s = stringMasks;
    if (s == null) {
      synchronized (this) {
        s = stringMasks;
        if (s == null) {
          s = new StringMasks(bytes, included);
          stringMasks = s;
        }
      }
    }
    return s;
  }

  private void walk(int node, List<Stack> states, long[] mask) {
    int stop = trie.end(node);
    for (int c = node + 1; c < stop; c = trie.end(c)) {
      List<Stack> next = feed(states, trie.label(c));
      if (!next.isEmpty()) {
        trie.markIds(c, mask);
        walk(c, next, mask);
      }
    }
  }

  static List<Stack> feed(List<Stack> states, int b) {
    List<Stack> out = new ArrayList<>(2);
    for (Stack s : states) {
      s.feed(b, out);
    }
    return out;
  }
}

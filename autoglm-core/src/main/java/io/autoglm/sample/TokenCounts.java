package io.autoglm.sample;

import java.util.Arrays;

/**
 * The distinct ids of a sequence so far, each with how often the output holds it and whether the prompt does: what
 * the penalties read. Entries are in first-seen order; an open-addressing table maps an id to its entry. Not
 * thread-safe: the engine thread alone updates it, between steps.
 */
public final class TokenCounts {
  private int[] ids = new int[16];
  private int[] generated = new int[16];
  private boolean[] inPrompt = new boolean[16];
  private int size;
  private int[] table = new int[32]; // entry index + 1; 0 = empty
  private int totalGenerated;

  /** Counts of a sequence that has only its prompt; {@code trackPrompt} false leaves the prompt out. */
  public static TokenCounts of(int[] prompt, boolean trackPrompt) {
    TokenCounts c = new TokenCounts();
    if (trackPrompt) {
      for (int id : prompt) {
        int e = c.entry(id); // before reading the field: entry() may grow the arrays
        c.inPrompt[e] = true;
      }
    }
    return c;
  }

  /** Counts one generated id. */
  public void addGenerated(int id) {
    int e = entry(id); // before reading the field: entry() may grow the arrays
    generated[e]++;
    totalGenerated++;
  }

  public int size() {
    return size;
  }

  public int id(int entry) {
    return ids[entry];
  }

  /** How many times the output holds the entry's id. */
  public int generated(int entry) {
    return generated[entry];
  }

  public boolean inPrompt(int entry) {
    return inPrompt[entry];
  }

  /** Generated ids counted so far. */
  public int totalGenerated() {
    return totalGenerated;
  }

  private int entry(int id) {
    int mask = table.length - 1;
    for (int h = mix(id) & mask;; h = (h + 1) & mask) {
      int e = table[h];
      if (e == 0) {
        return insert(id, h);
      }
      if (ids[e - 1] == id) {
        return e - 1;
      }
    }
  }

  private int insert(int id, int slot) {
    if (size == ids.length) {
      ids = Arrays.copyOf(ids, size * 2);
      generated = Arrays.copyOf(generated, size * 2);
      inPrompt = Arrays.copyOf(inPrompt, size * 2);
    }
    ids[size] = id;
    table[slot] = ++size;
    if (size * 2 > table.length) {
      rehash();
    }
    return size - 1;
  }

  private void rehash() {
    table = new int[table.length * 2];
    int mask = table.length - 1;
    for (int e = 0; e < size; e++) {
      int h = mix(ids[e]) & mask;
      while (table[h] != 0) {
        h = (h + 1) & mask;
      }
      table[h] = e + 1;
    }
  }

  private static int mix(int id) {
    int h = id * 0x9E3779B9;
    return h ^ (h >>> 16);
  }
}

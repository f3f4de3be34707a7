package io.autoglm.grammar;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A trie of byte strings for literal sets and object keys: each node is a prefix of at least one string; a terminal
 * node ends one, and names its {@code owner} (an index the caller chose, -1 when none). Built once, then read-only.
 */
final class ByteTrie {
  private final Map<Integer, ByteTrie> children = new HashMap<>();
  private boolean terminal;
  private int owner = -1;

  private ByteTrie() {}

  /** The trie of {@code strings}; {@code owners.get(i)} is the owner of string i. */
  static ByteTrie of(List<byte[]> strings, List<Integer> owners) {
    ByteTrie root = new ByteTrie();
    for (int i = 0; i < strings.size(); i++) {
      ByteTrie t = root;
      for (byte x : strings.get(i)) {
        t = t.children.computeIfAbsent(x & 0xff, k -> new ByteTrie());
      }
      t.terminal = true;
      t.owner = owners.get(i);
    }
    return root;
  }

  /** The node after byte {@code b}, or null when no string continues with it. */
  ByteTrie child(int b) {
    return children.get(b);
  }

  boolean isLeaf() {
    return children.isEmpty();
  }

  boolean terminal() {
    return terminal;
  }

  int owner() {
    return owner;
  }
}

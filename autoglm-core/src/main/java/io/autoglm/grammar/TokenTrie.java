package io.autoglm.grammar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The prefix tree of a vocabulary's byte strings, laid out in preorder: node 0 is the root (the empty prefix), the
 * subtree of node n is [n, end[n]), its first child is n + 1 and the next sibling of child c is end[c]. A token
 * mask walks it depth first, so a prefix shared by many tokens is read through the automaton once.
 */
final class TokenTrie {
  private final byte[] label; // (nodes) the byte that leads into each node; unused for the root
  private final int[] end; // (nodes) one past the last node of each subtree
  private final int[] idsFrom; // (nodes + 1) ids[idsFrom[n], idsFrom[n + 1]) end exactly at node n
  private final int[] ids;

  /** @param bytes (vocab) token bytes; ids with {@code included[id] == false} or no bytes are left out */
  TokenTrie(byte[][] bytes, boolean[] included) {
    List<Integer> order = new ArrayList<>();
    for (int id = 0; id < bytes.length; id++) {
      if (included[id] && bytes[id].length > 0) {
        order.add(id);
      }
    }
    order.sort(Comparator.comparing((Integer id) -> bytes[id], Arrays::compareUnsigned).thenComparing(id -> id));
    int maxLen = order.stream().mapToInt(id -> bytes[id].length).max().orElse(0);
    ByteArray labels = new ByteArray();
    IntArray ends = new IntArray();
    int[] nodeOfToken = new int[order.size()];
    int[] path = new int[maxLen + 1]; // node at each depth of the current token
    labels.add((byte) 0);
    ends.add(0);
    byte[] prev = new byte[0];
    for (int i = 0; i < order.size(); i++) {
      byte[] b = bytes[order.get(i)];
      int lcp = Math.min(Arrays.mismatch(prev, b) < 0 ? prev.length : Arrays.mismatch(prev, b), b.length);
      for (int d = lcp + 1; d < path.length && d <= prev.length; d++) {
        ends.set(path[d], labels.size()); // close the nodes the new token leaves
      }
      for (int d = lcp; d < b.length; d++) {
        path[d + 1] = labels.size();
        labels.add(b[d]);
        ends.add(0);
      }
      nodeOfToken[i] = path[b.length];
      prev = b;
    }
    for (int d = 1; d <= prev.length; d++) {
      ends.set(path[d], labels.size());
    }
    ends.set(0, labels.size());
    this.label = labels.toArray();
    this.end = ends.toArray();
    this.idsFrom = new int[label.length + 1];
    this.ids = new int[order.size()];
    for (int n : nodeOfToken) {
      idsFrom[n + 1]++;
    }
    for (int n = 0; n < label.length; n++) {
      idsFrom[n + 1] += idsFrom[n];
    }
    for (int i = 0; i < order.size(); i++) {
      ids[idsFrom[nodeOfToken[i]] + countBefore(nodeOfToken, i)] = order.get(i);
    }
  }

  /** Tokens ending at one node are consecutive in sorted order (equal byte strings). */
  private static int countBefore(int[] nodeOfToken, int i) {
    int k = 0;
    while (i - k - 1 >= 0 && nodeOfToken[i - k - 1] == nodeOfToken[i]) {
      k++;
    }
    return k;
  }

  int nodes() {
    return label.length;
  }

  int label(int node) {
    return label[node] & 0xff;
  }

  int end(int node) {
    return end[node];
  }

  /** Sets the bit of every id ending at {@code node}. */
  void markIds(int node, long[] mask) {
    for (int i = idsFrom[node]; i < idsFrom[node + 1]; i++) {
      mask[ids[i] >>> 6] |= 1L << ids[i];
    }
  }

  /** The ids ending exactly at {@code node}. */
  void forEachId(int node, java.util.function.IntConsumer action) {
    for (int i = idsFrom[node]; i < idsFrom[node + 1]; i++) {
      action.accept(ids[i]);
    }
  }

  private static final class ByteArray {
    private byte[] a = new byte[1 << 16];
    private int n;

    void add(byte b) {
      if (n == a.length) {
        a = Arrays.copyOf(a, n * 2);
      }
      a[n++] = b;
    }

    int size() {
      return n;
    }

    byte[] toArray() {
      return Arrays.copyOf(a, n);
    }
  }

  private static final class IntArray {
    private int[] a = new int[1 << 16];
    private int n;

    void add(int v) {
      if (n == a.length) {
        a = Arrays.copyOf(a, n * 2);
      }
      a[n++] = v;
    }

    void set(int i, int v) {
      a[i] = v;
    }

    int[] toArray() {
      return Arrays.copyOf(a, n);
    }
  }
}

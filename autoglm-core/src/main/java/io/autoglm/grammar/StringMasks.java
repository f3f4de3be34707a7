package io.autoglm.grammar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Token masks inside a string without walking the whole vocabulary: most tokens read the same way inside any
 * string, so each token's reading from a neutral point inside a string (no escape or UTF-8 character pending) is
 * computed once per vocabulary. A token either stays inside having started k characters, or closes the string
 * after k characters and leaves a suffix for the enclosing value, or is refused. Then the mask of state
 * (string at count c, enclosing frames R) is: the staying tokens with c + k <= maxLength (a precomputed
 * cumulative mask), plus the closing tokens with minLength <= c + k <= maxLength whose suffix R reads, found by
 * walking a trie of the suffixes from R. Equal, bit for bit, to walking the token trie from the state.
 */
final class StringMasks {
  private static final StringNode UNBOUNDED = new StringNode(0, Integer.MAX_VALUE);

  private final int words;
  private final long[][] insideUpTo; // (maxChars + 1, words) staying tokens that start at most k characters
  private final int[] closingChars; // (vocab) characters before the closing quote; -1: not a closing token
  private final long[] closingNoSuffix; // (words) closing tokens that end with the quote
  private final TokenTrie suffixes; // suffixes after the closing quote, over the closing tokens' ids

  StringMasks(byte[][] bytes, boolean[] included) {
    this.words = (bytes.length + 63) >>> 6;
    int[] insideChars = new int[bytes.length];
    this.closingChars = new int[bytes.length];
    Arrays.fill(insideChars, -1);
    Arrays.fill(closingChars, -1);
    this.closingNoSuffix = new long[words];
    byte[][] suffixBytes = new byte[bytes.length][];
    boolean[] hasSuffix = new boolean[bytes.length];
    int maxChars = 0;
    for (int id = 0; id < bytes.length; id++) {
      suffixBytes[id] = new byte[0];
      if (!included[id] || bytes[id].length == 0) {
        continue;
      }
      int[] read = read(bytes[id]);
      if (read[0] == 1) {
        insideChars[id] = read[1];
        maxChars = Math.max(maxChars, read[1]);
      } else if (read[0] == 2) {
        closingChars[id] = read[1];
        suffixBytes[id] = Arrays.copyOfRange(bytes[id], read[2], bytes[id].length);
        hasSuffix[id] = suffixBytes[id].length > 0;
        if (!hasSuffix[id]) {
          closingNoSuffix[id >>> 6] |= 1L << id;
        }
      }
    }
    this.insideUpTo = new long[maxChars + 1][];
    long[] acc = new long[words];
    for (int k = 0; k <= maxChars; k++) {
      for (int id = 0; id < bytes.length; id++) {
        if (insideChars[id] == k) {
          acc[id >>> 6] |= 1L << id;
        }
      }
      insideUpTo[k] = acc.clone();
    }
    this.suffixes = new TokenTrie(suffixBytes, hasSuffix);
  }

  /**
   * A token read from a neutral point inside an unbounded string: {0} refused, {1, k} stays inside having started
   * k characters (ending wherever, even mid-character), {2, k, j} closes the string at byte j - 1 after k characters.
   */
  private static int[] read(byte[] token) {
    List<Stack> out = new ArrayList<>(1);
    Frame cur = new StringNode.In(UNBOUNDED, 0, 0, 0, 0);
    for (int i = 0; i < token.length; i++) {
      out.clear();
      cur.step(token[i] & 0xff, Stack.EMPTY, out);
      if (out.isEmpty()) {
        return new int[] {0};
      }
      if (out.get(0).isEmpty()) {
        return new int[] {2, ((StringNode.In) cur).count(), i + 1};
      }
      cur = out.get(0).top();
    }
    return new int[] {1, ((StringNode.In) cur).count()};
  }

  /** Whether this class computes the mask of {@code state}: a string on top with nothing pending. */
  static boolean handles(Stack state) {
    return !state.isEmpty() && state.top() instanceof StringNode.In in && in.pending() == 0;
  }

  long[] mask(Stack state) {
    StringNode.In in = (StringNode.In) state.top();
    Stack rest = state.rest();
    int count = in.count();
    long room = (long) in.node().maxLength() - count; // characters that may still start
    long[] mask = insideUpTo[(int) Math.min(room, insideUpTo.length - 1)].clone();
    int minK = Math.max(0, in.node().minLength() - count);
    for (int w = 0; w < words; w++) {
      long bits = closingNoSuffix[w];
      for (; bits != 0; bits &= bits - 1) {
        int id = w * 64 + Long.numberOfTrailingZeros(bits);
        if (closingChars[id] >= minK && closingChars[id] <= room) {
          mask[w] |= 1L << id;
        }
      }
    }
    walk(0, List.of(rest), mask, minK, room);
    return mask;
  }

  private void walk(int node, List<Stack> states, long[] mask, int minK, long room) {
    int stop = suffixes.end(node);
    for (int c = node + 1; c < stop; c = suffixes.end(c)) {
      List<Stack> next = TokenVocabulary.feed(states, suffixes.label(c));
      if (!next.isEmpty()) {
        suffixes.forEachId(c, id -> {
          if (closingChars[id] >= minK && closingChars[id] <= room) {
            mask[id >>> 6] |= 1L << id;
          }
        });
        walk(c, next, mask, minK, room);
      }
    }
  }
}

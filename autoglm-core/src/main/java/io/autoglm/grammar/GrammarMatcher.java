package io.autoglm.grammar;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * One sequence's position in a {@link JsonGrammar}: the set of automaton states the tokens so far can be in
 * (several under {@code anyOf} or literals that prefix others). Gives the mask of the ids allowed next and
 * advances by one token. Invariant: the state set is never empty, and from every state some token leads on (the
 * grammar has no dead ends), so a mask always allows at least one id. Not thread-safe: the engine thread owns it.
 */
public final class GrammarMatcher {
  private final TokenVocabulary vocabulary;
  private List<Stack> states;
  private boolean ended; // an eos id was accepted

  GrammarMatcher(Stack start, TokenVocabulary vocabulary) {
    this.vocabulary = vocabulary;
    this.states = List.of(start);
  }

  /**
   * The ids allowed next, one bit per id over {@link TokenVocabulary#size()} ids (word {@code id >>> 6}, bit
   * {@code id & 63}): ids whose bytes keep the text a prefix of a valid value, and the eos ids when the text is
   * already a complete value. After an eos, only eos ids. A new array the caller may keep.
   */
  public long[] allowedTokens() {
    long[] mask = new long[(vocabulary.size() + 63) >>> 6];
    if (!ended) {
      for (Stack s : states) {
        long[] m = vocabulary.mask(s);
        for (int i = 0; i < mask.length; i++) {
          mask[i] |= m[i];
        }
      }
    }
    if (ended || isComplete()) {
      vocabulary.markEos(mask);
    }
    return mask;
  }

  /** Whether the text so far is a complete value of the grammar. */
  public boolean isComplete() {
    for (Stack s : states) {
      if (s.accepts()) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code tokenId} may come next (what {@link #allowedTokens} says of it). */
  public boolean allows(int tokenId) {
    return tokenId >= 0 && tokenId < vocabulary.size() && ((allowedTokens()[tokenId >>> 6] >>> tokenId) & 1) != 0;
  }

  /**
   * Advances over {@code tokenId}.
   *
   * @throws IllegalArgumentException when the grammar does not allow it here (the state is left as it was)
   */
  public void accept(int tokenId) {
    if (tokenId < 0 || tokenId >= vocabulary.size()) {
      throw new IllegalArgumentException("token id " + tokenId + " is outside the vocabulary [0, "
          + vocabulary.size() + ")");
    }
    if (vocabulary.isEos(tokenId)) {
      if (!ended && !isComplete()) {
        throw new IllegalArgumentException("eos id " + tokenId + " is not allowed: the JSON value is incomplete");
      }
      ended = true;
      return;
    }
    List<Stack> next = ended ? List.of() : advance(states, vocabulary.bytes(tokenId));
    if (next.isEmpty()) {
      throw new IllegalArgumentException("token id " + tokenId + " ("
          + new String(vocabulary.bytes(tokenId), java.nio.charset.StandardCharsets.UTF_8)
          + ") is not allowed by the grammar here");
    }
    states = next;
  }

  /** Whether reading {@code tokenId}'s bytes directly (no trie, no cache) leaves a state: the masks' reference. */
  boolean readable(int tokenId) {
    return !ended && !vocabulary.isEos(tokenId) && vocabulary.bytes(tokenId).length > 0
        && !advance(states, vocabulary.bytes(tokenId)).isEmpty();
  }

  static List<Stack> advance(List<Stack> from, byte[] bytes) {
    List<Stack> cur = from;
    for (byte b : bytes) {
      cur = TokenVocabulary.feed(cur, b & 0xff);
      if (cur.isEmpty()) {
        return cur;
      }
      if (cur.size() > 1) {
        cur = new ArrayList<>(new LinkedHashSet<>(cur));
      }
    }
    return cur;
  }
}

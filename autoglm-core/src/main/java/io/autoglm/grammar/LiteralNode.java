package io.autoglm.grammar;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;

/**
 * A value out of a fixed set of serialized JSON texts ({@code enum}, {@code const}, {@code true}, {@code null}), read
 * through a byte trie of the texts.
 */
final class LiteralNode implements Node {
  private final ByteTrie root;
  private final List<String> texts;

  LiteralNode(List<byte[]> literals) {
    if (literals.isEmpty()) {
      throw new IllegalArgumentException("a literal set must hold at least one value");
    }
    this.root = ByteTrie.of(literals, Collections.nCopies(literals.size(), -1));
    this.texts = literals.stream().map(l -> new String(l, StandardCharsets.UTF_8)).toList();
  }

  static LiteralNode of(String... texts) {
    return new LiteralNode(java.util.Arrays.stream(texts).map(t -> t.getBytes(StandardCharsets.UTF_8)).toList());
  }

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    enter(root.child(b), rest, out);
  }

  private static void enter(ByteTrie t, Stack rest, List<Stack> out) {
    if (t != null) {
      out.add(t.isLeaf() ? rest : rest.push(new At(t)));
    }
  }

  @Override
  public String toString() {
    return "literal" + texts;
  }

  /** Inside a literal, at trie node {@code at}. */
  record At(ByteTrie at) implements Frame {
    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      enter(at.child(b), rest, out);
    }

    @Override
    public boolean canEnd() {
      return at.terminal();
    }
  }
}

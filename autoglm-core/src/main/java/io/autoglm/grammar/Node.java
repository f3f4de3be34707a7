package io.autoglm.grammar;

import java.util.List;

/**
 * A compiled schema element: what a JSON value at one place may be. Nodes form a graph (cycles through
 * {@code $ref}); they are compared by identity.
 */
interface Node {
  /** Reads the first byte {@code b} of a value of this node, the caller's frames being {@code rest}. */
  void start(int b, Stack rest, List<Stack> out);

  /** Any of several nodes: {@code anyOf}, type lists, {@code nullable}. */
  final class AnyOf implements Node {
    private final List<Node> options;

    AnyOf(List<Node> options) {
      this.options = List.copyOf(options);
    }

    @Override
    public void start(int b, Stack rest, List<Stack> out) {
      for (Node n : options) {
        n.start(b, rest, out);
      }
    }
  }

  /** The target of a {@code $ref}, set once the referenced schema is compiled (which may refer back to it). */
  final class Ref implements Node {
    private Node target;

    void resolve(Node node) {
      this.target = node;
    }

    @Override
    public void start(int b, Stack rest, List<Stack> out) {
      target.start(b, rest, out);
    }
  }

  /** A value of {@code first} directly followed by a value of {@code then} (a call's name, then its arguments). */
  final class Seq implements Node {
    private final Node first;
    private final Node then;

    Seq(Node first, Node then) {
      this.first = first;
      this.then = then;
    }

    @Override
    public void start(int b, Stack rest, List<Stack> out) {
      first.start(b, rest.push(new Frame.Expect(then)), out);
    }
  }
}

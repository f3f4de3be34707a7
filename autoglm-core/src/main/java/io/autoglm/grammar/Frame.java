package io.autoglm.grammar;

import java.util.List;

/**
 * One level of the byte automaton's stack: the part of a value being read. Implementations are records (hashable,
 * compared by value, nodes by identity).
 */
interface Frame {
  /**
   * Reads byte {@code b} (0..255) with this frame on top of {@code rest}; adds each resulting stack to {@code out}
   * (none: the byte is not allowed here). A frame that completes its value adds {@code rest} itself.
   */
  void step(int b, Stack rest, List<Stack> out);

  /**
   * Whether this frame's value may end here, the next byte belonging to the enclosing value (numbers, and
   * literals that prefix other literals: {@code 1} of enum [1, 12]).
   */
  default boolean canEnd() {
    return false;
  }

  /** A value of {@code node} is expected next. */
  record Expect(Node node) implements Frame {
    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      node.start(b, rest, out);
    }
  }
}

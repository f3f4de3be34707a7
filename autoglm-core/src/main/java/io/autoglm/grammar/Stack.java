package io.autoglm.grammar;

import java.util.List;
import java.util.Objects;

/**
 * A persistent stack of {@link Frame}s: the state of the byte-level pushdown automaton. The top frame reads the
 * next byte; the frames below are the values that enclose it. Immutable and hashable (frames are records over
 * nodes compared by identity), so token masks are cached per stack.
 *
 * <p>Invariant: {@code depth} is the number of frames; the empty stack (a complete value) has depth 0 and reads
 * no byte.
 */
final class Stack {
  /** Frames deeper than this are never pushed: nesting is bounded, so no state is ever unbounded in size. */
  static final int MAX_DEPTH = 48;
  static final Stack EMPTY = new Stack(null, null, 0);

  private final Frame top;
  private final Stack rest;
  private final int depth;
  private final int hash;

  private Stack(Frame top, Stack rest, int depth) {
    this.top = top;
    this.rest = rest;
    this.depth = depth;
    this.hash = top == null ? 0 : 31 * rest.hash + top.hashCode();
  }

  Stack push(Frame frame) {
    return new Stack(Objects.requireNonNull(frame, "frame"), this, depth + 1);
  }

  /** The frame that reads the next byte; only for a non-empty stack. */
  Frame top() {
    return top;
  }

  /** The frames below the top; only for a non-empty stack. */
  Stack rest() {
    return rest;
  }

  boolean isEmpty() {
    return depth == 0;
  }

  int depth() {
    return depth;
  }

  /** Every stack reachable by reading byte {@code b} (0..255) from this one, added to {@code out}. */
  void feed(int b, List<Stack> out) {
    if (depth == 0) {
      return;
    }
    int before = out.size();
    top.step(b, rest, out);
    for (int i = out.size() - 1; i >= before; i--) {
      if (out.get(i).depth > MAX_DEPTH) {
        out.remove(i);
      }
    }
    if (top.canEnd()) {
      rest.feed(b, out);
    }
  }

  /** Whether the bytes read so far form a complete value: every frame left may end without reading more. */
  boolean accepts() {
    for (Stack s = this; s.depth > 0; s = s.rest) {
      if (!s.top.canEnd()) {
        return false;
      }
    }
    return true;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Stack s) || s.hash != hash || s.depth != depth) {
      return false;
    }
    Stack a = this;
    Stack b = s;
    while (a.depth > 0) {
      if (a == b) {
        return true;
      }
      if (!a.top.equals(b.top)) {
        return false;
      }
      a = a.rest;
      b = b.rest;
    }
    return true;
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("[");
    for (Stack s = this; s.depth > 0; s = s.rest) {
      sb.append(s.top).append(s.depth > 1 ? " | " : "");
    }
    return sb.append(']').toString();
  }
}

package io.autoglm.grammar;

import java.util.List;

/**
 * Any JSON object (compact): string keys, values of {@code value} (any JSON value for {@code json_object} mode).
 * Nesting is bounded by {@link Stack#MAX_DEPTH}.
 */
final class AnyObjectNode implements Node {
  private static final StringNode KEY = new StringNode(0, Integer.MAX_VALUE);
  private Node value;

  /** The value node is set after construction: any value may itself be an object of this node. */
  void values(Node value) {
    this.value = value;
  }

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    if (b == '{') {
      out.add(rest.push(new Obj(this, Obj.OPEN)));
    }
  }

  @Override
  public String toString() {
    return "object{*}";
  }

  /** Between members; KEY_DONE: after a key, before its colon. */
  record Obj(AnyObjectNode node, int phase) implements Frame {
    static final int OPEN = 0;
    static final int KEY_DONE = 1;
    static final int AFTER_VALUE = 2;
    static final int AFTER_COMMA = 3;

    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      switch (phase) {
        case OPEN, AFTER_COMMA -> {
          if (b == '}' && phase == OPEN) {
            out.add(rest);
          } else if (b == '"') {
            KEY.start(b, rest.push(new Obj(node, KEY_DONE)), out);
          }
        }
        case KEY_DONE -> {
          if (b == ':') {
            out.add(rest.push(new Obj(node, AFTER_VALUE)).push(new Frame.Expect(node.value)));
          }
        }
        default -> {
          if (b == '}') {
            out.add(rest);
          } else if (b == ',') {
            out.add(rest.push(new Obj(node, AFTER_COMMA)));
          }
        }
      }
    }
  }
}

package io.autoglm.grammar;

import java.util.List;

/** An array of {@code minItems..maxItems} values of one item node, written compactly. */
final class ArrayNode implements Node {
  private final Node items;
  private final int minItems;
  private final int maxItems;

  /** @param maxItems {@link Integer#MAX_VALUE}: unbounded */
  ArrayNode(Node items, int minItems, int maxItems) {
    if (minItems < 0 || maxItems < minItems) {
      throw new IllegalArgumentException("minItems (" + minItems + ") must be >= 0 and <= maxItems ("
          + maxItems + ")");
    }
    this.items = items;
    this.minItems = minItems;
    this.maxItems = maxItems;
  }

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    if (b == '[') {
      out.add(rest.push(new Arr(this, 0, Arr.OPEN)));
    }
  }

  @Override
  public String toString() {
    return "array[" + minItems + ".." + maxItems + "]";
  }

  /** {@code count} items begun; after "[" (OPEN), after an item (AFTER_ITEM), after a comma (AFTER_COMMA). */
  record Arr(ArrayNode node, int count, int phase) implements Frame {
    static final int OPEN = 0;
    static final int AFTER_ITEM = 1;
    static final int AFTER_COMMA = 2;

    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      if (phase == AFTER_ITEM) {
        if (b == ']' && count >= node.minItems) {
          out.add(rest);
        } else if (b == ',' && count < node.maxItems) {
          out.add(rest.push(new Arr(node, count, AFTER_COMMA)));
        }
        return;
      }
      if (phase == OPEN && b == ']' && node.minItems == 0) {
        out.add(rest);
      }
      if (count < node.maxItems) {
        node.items.start(b, rest.push(new Arr(node, count + 1, AFTER_ITEM)), out);
      }
    }
  }
}

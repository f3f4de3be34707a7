package io.autoglm.grammar;

import java.util.ArrayList;
import java.util.List;

/**
 * An object of declared properties, written compactly in declaration order: each property may appear at most once,
 * required ones must, and no other key is ever generated (sound for any {@code additionalProperties}: the output
 * always validates). {@code keys.get(i)} matches the quoted key and colon of every property that may come after
 * property i-1: those from i up to the first required one.
 */
final class ObjectNode implements Node {
  /** One declared property: its name as JSON text with the colon ({@code "name":}), and its value. */
  record Property(String name, byte[] keyBytes, Node value, boolean required) {}

  private final List<Property> properties;
  private final List<ByteTrie> keys = new ArrayList<>(); // (properties + 1) key tries by next index; null: none
  private final boolean[] canClose; // (properties + 1) no required property left from index i on

  ObjectNode(List<Property> properties) {
    this.properties = List.copyOf(properties);
    int n = properties.size();
    this.canClose = new boolean[n + 1];
    canClose[n] = true;
    for (int i = n - 1; i >= 0; i--) {
      canClose[i] = canClose[i + 1] && !properties.get(i).required();
    }
    for (int i = 0; i <= n; i++) {
      keys.add(keyTrie(i));
    }
  }

  /** The keys that may come next at index {@code from}; a terminal node (after the colon) owns its property index. */
  private ByteTrie keyTrie(int from) {
    List<byte[]> lits = new ArrayList<>();
    List<Integer> owners = new ArrayList<>();
    for (int j = from; j < properties.size(); j++) {
      lits.add(properties.get(j).keyBytes());
      owners.add(j);
      if (properties.get(j).required()) {
        break;
      }
    }
    return lits.isEmpty() ? null : ByteTrie.of(lits, owners);
  }

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    if (b == '{') {
      out.add(rest.push(new Obj(this, 0, Obj.OPEN)));
    }
  }

  private void key(int next, int b, Stack rest, List<Stack> out) {
    ByteTrie t = keys.get(next);
    ByteTrie c = t == null ? null : t.child(b);
    if (c != null) {
      out.add(rest.push(new Key(this, c)));
    }
  }

  @Override
  public String toString() {
    return "object" + properties.stream().map(Property::name).toList();
  }

  /** Between members: after "{" (OPEN), after a value (AFTER_VALUE), after a comma (AFTER_COMMA). */
  record Obj(ObjectNode node, int next, int phase) implements Frame {
    static final int OPEN = 0;
    static final int AFTER_VALUE = 1;
    static final int AFTER_COMMA = 2;

    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      if (b == '}' && phase != AFTER_COMMA && node.canClose[next]) {
        out.add(rest);
      } else if (b == ',' && phase == AFTER_VALUE && node.keys.get(next) != null) {
        out.add(rest.push(new Obj(node, next, AFTER_COMMA)));
      } else if (b == '"' && phase != AFTER_VALUE) {
        node.key(next, b, rest, out);
      }
    }
  }

  /** Inside a key (quotes and colon included), at a node of the key trie. */
  record Key(ObjectNode node, ByteTrie at) implements Frame {
    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      ByteTrie c = at.child(b);
      if (c == null) {
        return;
      }
      int owner = c.owner();
      if (owner >= 0) {
        out.add(rest.push(new Obj(node, owner + 1, Obj.AFTER_VALUE))
            .push(new Frame.Expect(node.properties.get(owner).value())));
      } else {
        out.add(rest.push(new Key(node, c)));
      }
    }
  }
}

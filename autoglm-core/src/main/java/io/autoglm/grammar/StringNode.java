package io.autoglm.grammar;

import java.util.List;

/**
 * A JSON string of {@code minLength..maxLength} characters (code points, as JSON Schema counts them), read byte by
 * byte: only well-formed UTF-8 (no overlong forms, no surrogates), no raw control characters, and the escapes
 * {@code \" \\ \/ \b \f \n \r \t} (each one character; backslash-u escapes are never generated).
 */
final class StringNode implements Node {
  private static final String ESCAPES = "\"\\/bfnrt";
  private final int minLength;
  private final int maxLength;

  /** @param maxLength {@link Integer#MAX_VALUE}: unbounded */
  StringNode(int minLength, int maxLength) {
    if (minLength < 0 || maxLength < minLength) {
      throw new IllegalArgumentException("minLength (" + minLength + ") must be >= 0 and <= maxLength ("
          + maxLength + ")");
    }
    this.minLength = minLength;
    this.maxLength = maxLength;
  }

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    if (b == '"') {
      out.add(rest.push(new In(this, 0, 0, 0, 0)));
    }
  }

  int minLength() {
    return minLength;
  }

  int maxLength() {
    return maxLength;
  }

  @Override
  public String toString() {
    return "string[" + minLength + ".." + maxLength + "]";
  }

  /**
   * Inside the string, {@code count} characters read. {@code pending}: -1 after a backslash, else the UTF-8
   * continuation bytes still due, the next in [lo, hi].
   */
  record In(StringNode node, int count, int pending, int lo, int hi) implements Frame {
    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      if (pending == -1) {
        if (ESCAPES.indexOf(b) >= 0) {
          out.add(rest.push(new In(node, count, 0, 0, 0)));
        }
      } else if (pending > 0) {
        if (b >= lo && b <= hi) {
          out.add(rest.push(new In(node, count, pending - 1, 0x80, 0xBF)));
        }
      } else if (b == '"') {
        if (count >= node.minLength) {
          out.add(rest);
        }
      } else if (count < node.maxLength) {
        startCharacter(b, rest, out);
      }
    }

    private void startCharacter(int b, Stack rest, List<Stack> out) {
      int next = count + 1;
      if (b == '\\') {
        out.add(rest.push(new In(node, next, -1, 0, 0)));
      } else if (b >= 0x20 && b < 0x80) {
        out.add(rest.push(new In(node, next, 0, 0, 0)));
      } else if (b >= 0xC2 && b <= 0xDF) {
        out.add(rest.push(new In(node, next, 1, 0x80, 0xBF)));
      } else if (b == 0xE0) {
        out.add(rest.push(new In(node, next, 2, 0xA0, 0xBF)));
      } else if (b == 0xED) {
        out.add(rest.push(new In(node, next, 2, 0x80, 0x9F))); // no UTF-16 surrogates
      } else if (b >= 0xE1 && b <= 0xEF) {
        out.add(rest.push(new In(node, next, 2, 0x80, 0xBF)));
      } else if (b == 0xF0) {
        out.add(rest.push(new In(node, next, 3, 0x90, 0xBF)));
      } else if (b >= 0xF1 && b <= 0xF3) {
        out.add(rest.push(new In(node, next, 3, 0x80, 0xBF)));
      } else if (b == 0xF4) {
        out.add(rest.push(new In(node, next, 3, 0x80, 0x8F)));
      }
    }
  }
}

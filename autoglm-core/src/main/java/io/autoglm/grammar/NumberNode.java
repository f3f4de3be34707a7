package io.autoglm.grammar;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;

/**
 * A JSON number in {@code [min, max]}, enforced digit by digit: a byte is allowed only when some completion of the
 * number read so far lies in the range, so every accepted prefix can still end inside it. Values are kept as longs
 * in units of 10^-fractionDigits; integers ({@code fractionDigits == 0}) have at most 18 digits, numbers at most 12
 * integer and 6 fraction digits; no exponent is ever generated.
 */
final class NumberNode implements Node {
  private final int fractionDigits;
  private final int maxIntDigits;
  private final long scale; // 10^fractionDigits
  private final long min; // scaled, inclusive
  private final long max; // scaled, inclusive

  private NumberNode(int fractionDigits, long min, long max) {
    this.fractionDigits = fractionDigits;
    this.maxIntDigits = 18 - fractionDigits;
    this.scale = pow10(fractionDigits);
    this.min = min;
    this.max = max;
  }

  /**
   * @param min inclusive bound or null; {@code exclusiveMin} turns it exclusive (likewise max)
   * @throws IllegalArgumentException when no value of the representable range satisfies the bounds
   */
  static NumberNode of(boolean integer, BigDecimal min, boolean exclusiveMin, BigDecimal max, boolean exclusiveMax) {
    int f = integer ? 0 : 6;
    BigDecimal s = BigDecimal.TEN.pow(f);
    long limit = pow10(18) - 1;
    long lo = -limit;
    long hi = limit;
    if (min != null) {
      BigDecimal m = min.multiply(s);
      BigDecimal c = m.setScale(0, RoundingMode.CEILING);
      if (exclusiveMin && c.compareTo(m) == 0) {
        c = c.add(BigDecimal.ONE);
      }
      lo = c.max(BigDecimal.valueOf(-limit)).min(BigDecimal.valueOf(limit).add(BigDecimal.ONE)).longValueExact();
    }
    if (max != null) {
      BigDecimal m = max.multiply(s);
      BigDecimal c = m.setScale(0, RoundingMode.FLOOR);
      if (exclusiveMax && c.compareTo(m) == 0) {
        c = c.subtract(BigDecimal.ONE);
      }
      hi = c.min(BigDecimal.valueOf(limit)).max(BigDecimal.valueOf(-limit).subtract(BigDecimal.ONE)).longValueExact();
    }
    if (lo > hi) {
      throw new IllegalArgumentException("minimum (" + min + ") and maximum (" + max + ") leave no "
          + (integer ? "integer" : "number with at most 6 fraction digits") + " of at most 18 digits");
    }
    return new NumberNode(f, lo, hi);
  }

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    if (b == '-') {
      offer(new Num(this, true, 0, 0, -1, 0), rest, out);
    } else if (b >= '0' && b <= '9') {
      offer(new Num(this, false, b - '0', 1, -1, 0), rest, out);
    }
  }

  private static void offer(Num n, Stack rest, List<Stack> out) {
    if (n.feasible()) {
      out.add(rest.push(n));
    }
  }

  @Override
  public String toString() {
    return (fractionDigits == 0 ? "integer[" : "number[") + min + ".." + max + "]/" + scale;
  }

  static long pow10(int n) {
    long p = 1;
    for (int i = 0; i < n; i++) {
      p *= 10;
    }
    return p;
  }

  /**
   * A number being read: sign, the integer part's value and digit count (0: only "-" so far), and the fraction's
   * digit count (-1: no point yet) and value.
   */
  record Num(NumberNode node, boolean negative, long intPart, int intDigits, int fracDigits, long frac)
      implements Frame {
    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      if (b >= '0' && b <= '9') {
        int d = b - '0';
        if (fracDigits < 0) {
          boolean leadingZero = intDigits == 1 && intPart == 0;
          if (!leadingZero && intDigits < node.maxIntDigits) {
            offer(new Num(node, negative, intPart * 10 + d, intDigits + 1, -1, 0), rest, out);
          }
        } else if (fracDigits < node.fractionDigits) {
          offer(new Num(node, negative, intPart, intDigits, fracDigits + 1, frac * 10 + d), rest, out);
        }
      } else if (b == '.' && fracDigits < 0 && intDigits > 0 && node.fractionDigits > 0) {
        offer(new Num(node, negative, intPart, intDigits, 0, frac), rest, out);
      }
    }

    @Override
    public boolean canEnd() {
      if (intDigits == 0 || fracDigits == 0) {
        return false;
      }
      long v = signed(scaledMagnitude());
      return v >= node.min && v <= node.max;
    }

    private long signed(long magnitude) {
      return negative ? -magnitude : magnitude;
    }

    private long scaledMagnitude() {
      int f = Math.max(fracDigits, 0);
      return intPart * node.scale + frac * pow10(node.fractionDigits - f);
    }

    /** Whether some completion of this prefix is a number in [min, max]. */
    boolean feasible() {
      if (intDigits == 0) {
        for (int d = 0; d <= 9; d++) {
          if (new Num(node, negative, d, 1, -1, 0).feasible()) {
            return true;
          }
        }
        return false;
      }
      if (fracDigits >= 0) {
        long unit = pow10(node.fractionDigits - fracDigits);
        long low = scaledMagnitude();
        return intersects(low, low + unit - 1);
      }
      int more = intPart == 0 ? 0 : node.maxIntDigits - intDigits;
      long p = 1;
      for (int k = 0; k <= more; k++, p *= 10) {
        if (intersects(intPart * p * node.scale, (intPart + 1) * p * node.scale - 1)) {
          return true;
        }
      }
      return false;
    }

    private boolean intersects(long lowMagnitude, long highMagnitude) {
      long a = negative ? -highMagnitude : lowMagnitude;
      long b = negative ? -lowMagnitude : highMagnitude;
      return a <= node.max && b >= node.min;
    }
  }
}

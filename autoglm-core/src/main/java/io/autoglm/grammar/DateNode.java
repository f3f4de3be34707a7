package io.autoglm.grammar;

import java.util.List;

/**
 * A string of {@code format: date} (RFC 3339 full-date, {@code "YYYY-MM-DD"}): a real calendar date, leap years
 * included. Every digit is allowed only when some valid date begins with the text so far.
 */
final class DateNode implements Node {
  static final DateNode INSTANCE = new DateNode();

  private DateNode() {}

  @Override
  public void start(int b, Stack rest, List<Stack> out) {
    if (b == '"') {
      out.add(rest.push(new In(0, 0, 0, 0)));
    }
  }

  @Override
  public String toString() {
    return "date";
  }

  static int daysIn(int year, int month) {
    boolean leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return switch (month) {
      case 2 -> leap ? 29 : 28;
      case 4, 6, 9, 11 -> 30;
      default -> 31;
    };
  }

  /** {@code pos} bytes read after the opening quote (10: the date is complete, the quote is next). */
  record In(int pos, int year, int month, int day) implements Frame {
    @Override
    public void step(int b, Stack rest, List<Stack> out) {
      if (pos == 10) {
        if (b == '"') {
          out.add(rest);
        }
        return;
      }
      if (pos == 4 || pos == 7) {
        if (b == '-') {
          out.add(rest.push(new In(pos + 1, year, month, day)));
        }
        return;
      }
      if (b < '0' || b > '9') {
        return;
      }
      int d = b - '0';
      In next = pos < 4 ? new In(pos + 1, year * 10 + d, 0, 0)
          : pos < 7 ? new In(pos + 1, year, month * 10 + d, 0)
          : new In(pos + 1, year, month, day * 10 + d);
      if (next.feasible()) {
        out.add(rest.push(next));
      }
    }

    /** Whether some valid date begins with the digits read, {@code pos} being the count read. */
    private boolean feasible() {
      return switch (pos) {
        case 6 -> month <= 1; // first month digit
        case 7 -> month >= 1 && month <= 12;
        case 9 -> day * 10 <= daysIn(year, month); // first day digit: some second digit makes a day of the month
        case 10 -> day >= 1 && day <= daysIn(year, month);
        default -> true;
      };
    }
  }
}

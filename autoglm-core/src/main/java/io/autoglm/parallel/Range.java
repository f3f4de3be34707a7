package io.autoglm.parallel;

/** Indices [start, end) along one dim of a tensor. */
public record Range(long start, long end) {
  public Range {
    if (start < 0 || end <= start) {
      throw new IllegalArgumentException("range [" + start + ", " + end + ") must be non-empty and start at >= 0");
    }
  }

  public long length() {
    return end - start;
  }

  /** Part {@code index} of {@code parts} equal parts of [0, size). */
  static Range part(long size, int parts, int index) {
    if (size % parts != 0) {
      throw new IllegalArgumentException(String.format("size %d does not split into %d equal parts", size, parts));
    }
    long n = size / parts;
    return new Range(index * n, (index + 1) * n);
  }

  Range shift(long by) {
    return new Range(start + by, end + by);
  }

  Range times(long factor) {
    return new Range(start * factor, end * factor);
  }

  @Override
  public String toString() {
    return start + ":" + end;
  }
}

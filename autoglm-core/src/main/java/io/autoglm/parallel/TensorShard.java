package io.autoglm.parallel;

import java.util.Arrays;
import java.util.List;

/**
 * What one rank loads of one tensor: all of it, or ranges of its rows (dim 0; a contiguous byte range each) or of
 * its columns (dim 1 of a 2-D tensor; a strided copy). Several row ranges are concatenated in order.
 *
 * @param fullShape the stored shape
 * @param ranges along the split dim; empty exactly when {@link Split#REPLICATED}
 */
public record TensorShard(String name, long[] fullShape, Split split, List<Range> ranges) {
  /** How a tensor is split across ranks. */
  public enum Split {
    REPLICATED,
    ROWS,
    COLUMNS
  }

  public TensorShard {
    fullShape = fullShape.clone();
    ranges = List.copyOf(ranges);
    if ((split == Split.REPLICATED) != ranges.isEmpty()) {
      throw new IllegalArgumentException(String.format(
          "tensor %s: a %s shard needs %s ranges, got %s", name, split, split == Split.REPLICATED ? "no" : "some",
          ranges));
    }
    if (split == Split.COLUMNS && fullShape.length != 2) {
      throw new IllegalArgumentException(String.format(
          "tensor %s: column shards need a 2-D tensor, got shape %s", name, Arrays.toString(fullShape)));
    }
    int dim = split == Split.COLUMNS ? 1 : 0;
    for (Range r : ranges) {
      if (r.end() > fullShape[dim]) {
        throw new IllegalArgumentException(String.format(
            "tensor %s: range %s exceeds dim %d of shape %s", name, r, dim, Arrays.toString(fullShape)));
      }
    }
  }

  /** The loaded shape (the ranges concatenated). */
  public long[] shape() {
    long[] s = fullShape.clone();
    if (split != Split.REPLICATED) {
      s[split == Split.COLUMNS ? 1 : 0] = ranges.stream().mapToLong(Range::length).sum();
    }
    return s;
  }

  public long elementCount() {
    return Arrays.stream(shape()).reduce(1, Math::multiplyExact);
  }

  @Override
  public String toString() {
    return name + " " + Arrays.toString(shape()) + " = " + switch (split) {
      case REPLICATED -> "all of " + Arrays.toString(fullShape);
      case ROWS -> "rows " + ranges;
      case COLUMNS -> "columns " + ranges;
    };
  }
}

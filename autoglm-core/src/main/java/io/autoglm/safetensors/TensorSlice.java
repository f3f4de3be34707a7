package io.autoglm.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * One tensor of a safetensors file: its name, type and shape, and its bytes as a little-endian slice of the
 * memory-mapped file (never a heap copy).
 *
 * @param data little-endian, read-only, position 0, limit = element count × dtype size
 * @param scale the dequantization scales of an {@link DType#F8_E4M3} weight (present exactly then)
 */
public record TensorSlice(String name, Path file, DType dtype, long[] shape, ByteBuffer data,
    Optional<BlockScale> scale) {

  public TensorSlice {
    data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    if (dtype.isFp8() != scale.isPresent()) {
      throw new IllegalArgumentException(String.format("tensor %s has dtype %s and %s scale; an F8_E4M3 tensor "
          + "needs a block scale and no other dtype may have one", name, dtype, scale.isPresent() ? "a" : "no"));
    }
  }

  /** An unquantized tensor (no scale). */
  public TensorSlice(String name, Path file, DType dtype, long[] shape, ByteBuffer data) {
    this(name, file, dtype, shape, data, Optional.empty());
  }

  public long elementCount() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  public int dim(int i) {
    return Math.toIntExact(shape[i]);
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape) + scale.map(b -> " " + b).orElse("") + " in "
        + file.getFileName();
  }
}

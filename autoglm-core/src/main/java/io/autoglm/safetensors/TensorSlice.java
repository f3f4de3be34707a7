package io.autoglm.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a safetensors file: its name, type and shape, and its bytes as a little-endian slice of the
 * memory-mapped file (never a heap copy).
 *
 * @param data little-endian, read-only, position 0, limit = element count × dtype size
 */
public record TensorSlice(String name, Path file, DType dtype, long[] shape, ByteBuffer data) {

  public TensorSlice {
    data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
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
    return name + " " + dtype + Arrays.toString(shape) + " in " + file.getFileName();
  }
}

package io.autoglm.safetensors;

import io.autoglm.ModelLoadException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Converts F16, BF16 and block-scaled F8_E4M3 elements to fp32, in Java (DJL cannot hold BF16 tensors). An FP8
 * element dequantizes to {@code Fp8.decode(q) × scale} in one fp32 multiplication, exactly as torch's
 * {@code q.float() * scale}; a NaN code ({@code 0x7F}, {@code 0xFF}) is refused, naming the tensor and the element.
 */
public final class Widening {
  private Widening() {}

  /** Widens {@code count} elements starting at element {@code from} of {@code src} into {@code dst}. */
  public static void toFloat32(TensorSlice src, long from, int count, FloatBuffer dst) {
    ByteBuffer data = src.data();
    int first = Math.toIntExact(from);
    switch (src.dtype()) {
      case F32 -> {
        for (int i = 0; i < count; i++) {
          dst.put(data.getFloat((first + i) * 4));
        }
      }
      case BF16 -> {
        for (int i = 0; i < count; i++) {
          dst.put(Float.intBitsToFloat((data.getShort((first + i) * 2) & 0xffff) << 16));
        }
      }
      case F16 -> {
        for (int i = 0; i < count; i++) {
          dst.put(halfToFloat(data.getShort((first + i) * 2)));
        }
      }
      case F8_E4M3 -> dequantize(src, first, count, dst);
      default -> throw new IllegalArgumentException("tensor " + src.name() + ": dtype " + src.dtype()
          + " is not a weight type (F32, F16, BF16, F8_E4M3)");
    }
  }

  private static void dequantize(TensorSlice src, int first, int count, FloatBuffer dst) {
    BlockScale scale = src.scale().orElseThrow();
    ByteBuffer data = src.data();
    int cols = src.dim(1);
    int end = first + count;
    for (int i = first; i < end; ) {
      int r = i / cols;
      int c = i % cols;
      int runEnd = Math.min(end, Math.min(r * cols + cols, r * cols + (c / scale.blockCols() + 1) * scale.blockCols()));
      float s = scale.at(r, c); // one scale for the run of this row within one block
      for (; i < runEnd; i++) {
        byte q = data.get(i);
        if ((q & 0x7f) == 0x7f) {
          throw new ModelLoadException(String.format("tensor %s in %s holds the FP8 NaN code 0x%02x at (%d, %d); "
              + "expected finite weights", src.name(), src.file(), q & 0xff, i / cols, i % cols));
        }
        dst.put(Fp8.decode(q) * s);
      }
    }
  }

  /** IEEE 754 binary16 to binary32, exact (including subnormals, infinities and NaN). */
  public static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** fp32 to bfloat16 with round-to-nearest-even, as torch's {@code .to(torch.bfloat16)}. */
  public static short floatToBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7fffffff) > 0x7f800000) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }
}

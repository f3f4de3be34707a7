package io.autoglm.safetensors;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/** Converts F16 and BF16 elements to fp32, in Java (DJL cannot hold BF16 tensors). */
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
      default -> throw new IllegalArgumentException("tensor " + src.name() + ": dtype " + src.dtype()
          + " is not a weight type (F32, F16, BF16)");
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

package io.autoglm.safetensors;

import java.util.Arrays;
import java.util.Optional;

/** The safetensors element types this project reads. Names are the header's {@code dtype} strings. */
public enum DType {
  F32(4),
  F16(2),
  BF16(2),
  I64(8),
  I32(4),
  /** OCP FP8 E4M3 ("e4m3fn": no infinities, 0x7F/0xFF are NaN, max 448), stored with a {@link BlockScale}. */
  F8_E4M3(1);

  private final int sizeBytes;

  DType(int sizeBytes) {
    this.sizeBytes = sizeBytes;
  }

  public int sizeBytes() {
    return sizeBytes;
  }

  /** True for the floating point types that weights may be stored in. */
  public boolean isFloat() {
    return this == F32 || this == F16 || this == BF16;
  }

  /** True for the 8-bit float type of block-scaled FP8 checkpoints. */
  public boolean isFp8() {
    return this == F8_E4M3;
  }

  public static Optional<DType> fromHeader(String name) {
    return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst();
  }
}

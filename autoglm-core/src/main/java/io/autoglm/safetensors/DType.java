package io.autoglm.safetensors;

import java.util.Arrays;
import java.util.Optional;

/** The safetensors element types this project reads. Names are the header's {@code dtype} strings. */
public enum DType {
  F32(4),
  F16(2),
  BF16(2),
  I64(8),
  I32(4);

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

  public static Optional<DType> fromHeader(String name) {
    return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst();
  }
}

package io.autoglm.cuda.tools;

/**
 * E4M3 encoding and the block quantization rule of the CUDA backend's {@code quantizeFp8K} (docs/fp8.md, "CUDA"), in
 * Java, for the device tools: quantized on the host, a checkpoint must load onto the device bit for bit as the
 * device's own quantization at load makes it ({@link Fp8Check} checks that through the logits).
 */
final class Fp8Codec {
  /** The largest finite E4M3 value. */
  static final float MAX = 448f;

  private Fp8Codec() {}

  /**
   * fp32 → E4M3 as {@code __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)}: round to nearest, ties to even;
   * magnitudes beyond 448 (infinities included) saturate to ±448; NaN → 0x7F; the sign of a zero result is kept.
   */
  static byte encode(float x) {
    if (Float.isNaN(x)) {
      return 0x7f;
    }
    int sign = (Float.floatToRawIntBits(x) >>> 24) & 0x80;
    float a = Math.abs(x);
    if (a >= MAX) {
      return (byte) (sign | 0x7e);
    }
    int code;
    if (a < 0x1p-6f) { // subnormal: m · 2^-9, m = 0..8 (8 is the smallest normal, code 0x08)
      code = (int) Math.rint(a * 512.0);
    } else {
      int e = Math.getExponent(a); // -6..8
      int r = (int) Math.rint(Math.scalb((double) a, 3 - e)); // 8..16
      if (r == 16) {
        e++;
        r = 8;
      }
      code = Math.min(((e + 7) << 3) | (r - 8), 0x7e);
    }
    return (byte) (sign | code);
  }

  /** E4M3 → fp32 (exact). */
  static float decode(byte b) {
    int exp = (b >> 3) & 15;
    int m = b & 7;
    float v;
    if (exp == 0) {
      v = m * 0x1p-9f;
    } else if (exp == 15 && m == 7) {
      v = Float.NaN;
    } else {
      v = Math.scalb(1 + m / 8f, exp - 7);
    }
    return (b & 0x80) != 0 ? -v : v;
  }

  /** A quantized weight: e4m3 row-major and its [ceil(rows/block)][ceil(cols/block)] scales. */
  record Quantized(byte[] q, float[] scales, int rows, int cols, int block) {
    float dequantized(int r, int c) {
      int sc = (cols + block - 1) / block;
      return decode(q[r * cols + c]) * scales[(r / block) * sc + c / block];
    }
  }

  /**
   * The CUDA rule per (block × block) tile of w (rows × cols, values as the device stores them, i.e. bf16): amax =
   * the largest |w|, scale = amax / 448 in fp32 (1 when amax is 0), q = encode(w / scale) with an fp32 division.
   */
  static Quantized quantize(float[] w, int rows, int cols, int block) {
    int sr = (rows + block - 1) / block;
    int sc = (cols + block - 1) / block;
    byte[] q = new byte[rows * cols];
    float[] s = new float[sr * sc];
    for (int i = 0; i < sr; i++) {
      for (int j = 0; j < sc; j++) {
        int r1 = Math.min(rows, (i + 1) * block);
        int c1 = Math.min(cols, (j + 1) * block);
        float amax = 0;
        for (int r = i * block; r < r1; r++) {
          for (int c = j * block; c < c1; c++) {
            float v = Math.abs(w[r * cols + c]);
            if (v > amax) { // NaN ignored, as fmaxf does
              amax = v;
            }
          }
        }
        float scale = amax == 0 ? 1f : amax / MAX;
        s[i * sc + j] = scale;
        for (int r = i * block; r < r1; r++) {
          for (int c = j * block; c < c1; c++) {
            q[r * cols + c] = encode(w[r * cols + c] / scale);
          }
        }
      }
    }
    return new Quantized(q, s, rows, cols, block);
  }
}

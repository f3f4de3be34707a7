package io.autoglm.safetensors;

/**
 * The reference FP8 E4M3 codec ("e4m3fn" of the OCP 8-bit floating point spec: 1 sign, 4 exponent bits with bias 7,
 * 3 mantissa bits; no infinities; {@code 0x7F}/{@code 0xFF} are NaN; largest finite ±448; smallest subnormal
 * 2<sup>-9</sup>) and the block quantization of zai-org's / DeepSeek's FP8 checkpoints.
 *
 * <p>{@link #encode} rounds to nearest, ties to even mantissa, and saturates every magnitude above 448 (infinities
 * included) to ±448; NaN encodes as {@code 0x7F}; −0 as {@code 0x80}. That is CUDA's
 * {@code __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)} bit for bit. torch's {@code .to(float8_e4m3fn)}
 * rounds the same way but turns magnitudes of 464 and more into NaN; block quantization never feeds it those.
 *
 * <p>{@link #blockScale}: a block's scale is {@code amax / 448} in fp32 (so its largest element encodes as ±448),
 * or 1 when that is 0 (an all-zero block, or one so small that the quotient underflows: its elements then encode as
 * 0 or the smallest codes). Elements are encoded as {@code encode(w / scale)}, one IEEE fp32 division each (not a
 * multiplication by the reciprocal, which rounds differently). Non-finite weights are refused.
 */
public final class Fp8 {
  /** The largest finite E4M3 magnitude. */
  public static final float MAX = 448f;

  /** The canonical NaN code (CUDA's and torch's). */
  public static final byte NAN = 0x7F;

  private static final float[] DECODED = new float[256];

  static {
    for (int b = 0; b < 256; b++) {
      DECODED[b] = decodeBits(b);
    }
  }

  private Fp8() {}

  /** The exact value of an E4M3 code. */
  public static float decode(byte code) {
    return DECODED[code & 0xff];
  }

  private static float decodeBits(int b) {
    int exp = (b >>> 3) & 0xf;
    int mant = b & 0x7;
    float magnitude;
    if (exp == 0xf && mant == 0x7) {
      magnitude = Float.NaN;
    } else if (exp == 0) {
      magnitude = mant * 0x1p-9f;
    } else {
      magnitude = (8 + mant) * Math.scalb(1f, exp - 10); // (1 + m/8) · 2^(e-7)
    }
    return (b & 0x80) != 0 ? -magnitude : magnitude;
  }

  /** The nearest E4M3 code, ties to even, saturating to ±448; NaN gives {@link #NAN}. */
  public static byte encode(float x) {
    if (Float.isNaN(x)) {
      return NAN;
    }
    int sign = (Float.floatToRawIntBits(x) >>> 24) & 0x80;
    float a = Math.abs(x);
    int code;
    if (a > MAX) {
      code = 0x7e;
    } else if (a < 0x1p-6f) { // subnormal range: multiples of 2^-9; rounding up to 8·2^-9 gives 0x08, the min normal
      code = (int) Math.rint(a * 512.0);
    } else {
      int e = Math.getExponent(a); // a in [2^e, 2^(e+1)), e in [-6, 8]
      int mantissa8 = (int) Math.rint(Math.scalb((double) a, 3 - e)); // in [8, 16]; 16 carries into the exponent
      code = ((e + 7) << 3) + mantissa8 - 8;
    }
    return (byte) (code | sign);
  }

  /** {@code x} rounded to the nearest E4M3 value (ties to even, saturating to ±448): {@code decode(encode(x))}. */
  public static float round(float x) {
    return DECODED[encode(x) & 0xff];
  }

  /** A block's scale (dequantized = code × scale): {@code amax / 448}, or 1 where that is 0. */
  public static float blockScale(float amax) {
    if (!(amax >= 0) || Float.isInfinite(amax)) {
      throw new IllegalArgumentException("block amax (" + amax + ") must be finite and >= 0");
    }
    float s = amax / MAX;
    return s == 0 ? 1f : s;
  }

  /** A weight quantized in blocks: {@code codes} row-major like the weight, {@code scaleInv} row-major per block. */
  public record Quantized(byte[] codes, float[] scaleInv, int rows, int cols, int blockRows, int blockCols) {
    public int scaleRows() {
      return ceilDiv(rows, blockRows);
    }

    public int scaleCols() {
      return ceilDiv(cols, blockCols);
    }

    /** The dequantized value of element (r, c). */
    public float dequantized(int r, int c) {
      return decode(codes[r * cols + c]) * scaleInv[(r / blockRows) * scaleCols() + c / blockCols];
    }
  }

  /**
   * Quantizes a row-major (rows, cols) fp32 weight in blocks of blockRows × blockCols (the last ones clipped).
   *
   * @param name the tensor, for the message when an element is not finite
   */
  public static Quantized quantize(String name, float[] w, int rows, int cols, int blockRows, int blockCols) {
    return quantize(name, w, rows, cols, blockRows, blockCols, 0);
  }

  /** {@link #quantize} of rows {@code firstRow..} of a larger weight ({@code firstRow} only names rows in errors). */
  public static Quantized quantize(String name, float[] w, int rows, int cols, int blockRows, int blockCols,
      int firstRow) {
    if (rows < 0 || cols < 0 || (long) rows * cols != w.length || blockRows < 1 || blockCols < 1) {
      throw new IllegalArgumentException(String.format("tensor %s: cannot quantize %d values as (%d, %d) in "
          + "%d×%d blocks; expected rows × cols values and positive block sizes", name, w.length, rows, cols,
          blockRows, blockCols));
    }
    int sr = ceilDiv(rows, blockRows);
    int sc = ceilDiv(cols, blockCols);
    byte[] codes = new byte[w.length];
    float[] scales = new float[sr * sc];
    for (int br = 0; br < sr; br++) {
      for (int bc = 0; bc < sc; bc++) {
        scales[br * sc + bc] = quantizeBlock(name, w, codes, cols, br * blockRows, Math.min(rows, (br + 1)
            * blockRows), bc * blockCols, Math.min(cols, (bc + 1) * blockCols), firstRow);
      }
    }
    return new Quantized(codes, scales, rows, cols, blockRows, blockCols);
  }

  private static float quantizeBlock(String name, float[] w, byte[] codes, int cols, int r0, int r1, int c0, int c1,
      int firstRow) {
    float amax = 0;
    for (int r = r0; r < r1; r++) {
      for (int c = c0; c < c1; c++) {
        float v = w[r * cols + c];
        if (!Float.isFinite(v)) {
          throw new IllegalArgumentException(String.format("tensor %s: element (%d, %d) is %s; FP8 quantization "
              + "needs finite weights", name, firstRow + r, c, v));
        }
        amax = Math.max(amax, Math.abs(v));
      }
    }
    float scale = blockScale(amax);
    for (int r = r0; r < r1; r++) {
      for (int c = c0; c < c1; c++) {
        codes[r * cols + c] = encode(w[r * cols + c] / scale);
      }
    }
    return scale;
  }

  static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}

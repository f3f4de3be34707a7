package io.autoglm.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.fuzz.Fuzz;
import org.junit.jupiter.api.Test;

/**
 * The E4M3 codec against the OCP 8-bit floating point spec (v1.0, table 1 and section 5.3): values worked by hand
 * from "S.EEEE.MMM, bias 7, no infinities, S.1111.111 is NaN", CUDA's saturating round-to-nearest-even conversion,
 * and the block quantization's invariants.
 */
class Fp8Test {
  /** Codes and their values, worked by hand from the spec's field layout. */
  @Test
  void decodesTheSpecsAnchorValues() {
    Object[][] anchors = {
        {0x00, 0f}, {0x01, 0x1p-9f}, // smallest subnormal 2^-9 = 0.001953125
        {0x04, 0.0078125f}, {0x07, 0.013671875f}, // largest subnormal 0.875 × 2^-6
        {0x08, 0.015625f}, // smallest normal 2^-6
        {0x30, 0.5f}, {0x38, 1f}, {0x39, 1.125f}, {0x3c, 1.5f}, {0x3f, 1.875f}, {0x40, 2f},
        {0x54, 12f}, {0x60, 32f}, {0x70, 128f}, {0x78, 256f}, {0x77, 240f}, // 1.111b × 2^7
        {0x7c, 384f}, {0x7d, 416f}, {0x7e, 448f}, // largest finite
        {0x80, -0f}, {0x81, -0x1p-9f}, {0xb8, -1f}, {0xfe, -448f}};
    for (Object[] a : anchors) {
      int code = (Integer) a[0];
      float expected = (Float) a[1];
      assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(Fp8.decode((byte) code)),
          String.format("code 0x%02x: expected %s, got %s", code, expected, Fp8.decode((byte) code)));
    }
    assertTrue(Float.isNaN(Fp8.decode((byte) 0x7f)), "0x7f (S.1111.111) is NaN");
    assertTrue(Float.isNaN(Fp8.decode((byte) 0xff)), "0xff is NaN");
  }

  /** All 256 codes: 254 finite (±0 equal, so 253 values), strictly increasing over 0x00..0x7e, symmetric in sign. */
  @Test
  void allCodesFormTheSpecsValueSet() {
    java.util.Set<Float> values = new java.util.HashSet<>();
    for (int b = 0; b < 256; b++) {
      float v = Fp8.decode((byte) b);
      boolean nan = (b & 0x7f) == 0x7f;
      assertEquals(nan, Float.isNaN(v), "code " + b);
      if (!nan) {
        values.add(v == 0 ? 0f : v);
        assertEquals(-v, Fp8.decode((byte) (b ^ 0x80)), "sign symmetry of code " + b);
      }
      if (b >= 1 && b <= 0x7e) {
        assertTrue(v > Fp8.decode((byte) (b - 1)), "codes increase: " + (b - 1) + " < " + b);
      }
      int exp = (b >>> 3) & 0xf;
      if (!nan && exp > 0) { // a normal's spacing is 2^(e - 10): one mantissa step
        float step = Math.scalb(1f, exp - 10);
        assertEquals((8 + (b & 7)) * step, Math.abs(v), "normal code " + b);
      }
    }
    assertEquals(253, values.size());
  }

  /** encode(decode(c)) = c for every non-NaN code, −0 included. */
  @Test
  void encodeInvertsDecode() {
    for (int b = 0; b < 256; b++) {
      if ((b & 0x7f) != 0x7f) {
        assertEquals((byte) b, Fp8.encode(Fp8.decode((byte) b)), "code " + b);
      }
    }
  }

  @Test
  void roundsToNearestEvenAtTheBoundaries() {
    float[][] cases = { // input, expected code
        {1.0625f, 0x38}, // midway 1 and 1.125: to even mantissa 000
        {Math.nextUp(1.0625f), 0x39},
        {1.1875f, 0x3a}, // midway 1.125 and 1.25: to even 010
        {Math.nextDown(1.1875f), 0x39},
        {0x1p-10f, 0x00}, // midway 0 and the smallest subnormal: to 0
        {Math.nextUp(0x1p-10f), 0x01},
        {3 * 0x1p-10f, 0x02}, // midway subnormals 1 and 2: to 2
        {15 * 0x1p-10f, 0x08}, // midway the largest subnormal and the smallest normal: to the normal (even)
        {Float.MIN_VALUE, 0x00},
        {432f, 0x7e}, // midway 416 and 448: to 448 (110)
        {Math.nextDown(432f), 0x7d},
        {449f, 0x7e}, {464f, 0x7e}, {1e30f, 0x7e}, {Float.POSITIVE_INFINITY, 0x7e}, // saturation (SATFINITE)
        {-449f, 0xfe}, {Float.NEGATIVE_INFINITY, 0xfe},
        {-0f, 0x80}, {0f, 0x00}, {Float.NaN, 0x7f}, {-1.0625f, 0xb8}};
    for (float[] c : cases) {
      assertEquals((byte) (int) c[1], Fp8.encode(c[0]), "encode(" + c[0] + ")");
    }
    assertEquals(Fp8.NAN, Fp8.encode(Float.intBitsToFloat(0xffc00001)), "a negative NaN encodes as 0x7f");
  }

  /** For any finite x within range, the code is the nearest of all 254 finite codes, a tie going to the even one. */
  @Test
  void encodeIsTheNearestCode() {
    Fuzz.forAll("fp8 nearest code", 8000, IllegalArgumentException.class, r -> {
      int kind = r.nextInt(4);
      int code = r.nextInt(0x7e);
      return kind == 0 ? (float) (r.nextDouble(-460, 460))
          : kind == 1 ? (float) (r.nextDouble(-0.02, 0.02))
          : kind == 2 ? (Fp8.decode((byte) code) + Fp8.decode((byte) (code + 1))) / 2 // an exact tie
          : Fp8.decode((byte) r.nextInt(256)) + (r.nextBoolean() ? 1 : -1) * (float) r.nextDouble() * 0.01f;
    }, (h, x) -> h.run(() -> nearest(x), () -> Float.toString(x)));
  }

  private static Void nearest(float x) {
    if (Math.abs(x) <= Fp8.MAX) {
      byte got = Fp8.encode(x);
      double err = Math.abs((double) Fp8.decode(got) - x);
      for (int b = 0; b < 256; b++) {
        float v = Fp8.decode((byte) b);
        if (Float.isNaN(v)) {
          continue;
        }
        double e = Math.abs((double) v - x);
        assertTrue(e >= err, String.format("encode(%s) = 0x%02x (%s) but 0x%02x (%s) is nearer", x, got,
            Fp8.decode(got), b, v));
        if (e == err && v != Fp8.decode(got)) {
          assertEquals(0, got & 1, String.format("tie at %s between 0x%02x and 0x%02x must go to the even", x,
              got, b));
        }
      }
    }
    return null;
  }

  /** In the normal range the relative error is at most half a mantissa step: 2^-4. */
  @Test
  void normalRelativeErrorIsAtMostOneSixteenth() {
    Fuzz.forAll("fp8 normal relative error", 20000, IllegalArgumentException.class,
        r -> (float) Math.scalb(1 + r.nextDouble(), r.nextInt(-6, 8)) * (r.nextBoolean() ? 1 : -1),
        (h, x) -> h.run(() -> {
          float y = Fp8.decode(Fp8.encode(x));
          assertTrue(Math.abs(y - x) <= Math.abs(x) * 0x1p-4, x + " → " + y);
          return null;
        }, () -> Float.toString(x)));
  }

  @Test
  void blockQuantizationScalesEachBlockToItsAmax() {
    int rows = 5;
    int cols = 7;
    float[] w = new float[rows * cols];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) Math.sin(i * 0.7) * (i < 14 ? 3 : 0.001f);
    }
    w[3] = -10; // amax of block (0, 0) with 2×4 blocks
    for (int c = 4; c < 7; c++) {
      w[4 * cols + c] = 0; // block (2, 1) is row 4, cols 4..6: all zero
    }
    Fp8.Quantized q = Fp8.quantize("w", w, rows, cols, 2, 4);
    assertEquals(3, q.scaleRows());
    assertEquals(2, q.scaleCols());
    assertEquals(10f / 448f, q.scaleInv()[0]);
    assertEquals((byte) 0xfe, q.codes()[3], "the block's amax encodes as -448");
    assertEquals(1f, q.scaleInv()[2 * 2 + 1], "an all-zero block gets scale 1");
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        float scale = q.scaleInv()[(r / 2) * 2 + c / 4];
        float x = w[r * cols + c];
        assertEquals(Fp8.encode(x / scale), q.codes()[r * cols + c]);
        assertTrue(Math.abs(q.dequantized(r, c) - x) <= Math.max(Math.abs(x) * 0x1p-4, scale * 0x1p-10),
            "(" + r + ", " + c + ") " + x + " → " + q.dequantized(r, c));
      }
    }
  }

  @Test
  void quantizationRefusesNonFiniteWeightsNamingTheElement() {
    float[] w = {1, 2, Float.NaN, 4};
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Fp8.quantize("model.layers.0.mlp.down_proj.weight", w, 2, 2, 128, 128));
    assertEquals("tensor model.layers.0.mlp.down_proj.weight: element (1, 0) is NaN; FP8 quantization needs finite "
        + "weights", e.getMessage());
    assertEquals(1f, Fp8.blockScale(0f));
    assertEquals(1f, Fp8.blockScale(Float.MIN_VALUE), "an underflowing scale becomes 1");
  }
}

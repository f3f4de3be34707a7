package io.autoglm.cuda.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The E4M3 codec against the format's definition (OCP FP8 E4M3: bias 7, 3 mantissa bits, no infinities, S.1111.111
 * NaN, largest finite 448) and the saturating round-to-nearest-even of {@code __nv_cvt_float_to_fp8(SATFINITE)}.
 */
class Fp8CodecTest {
  @Test
  void decodesTheFormatsValuesAndEveryFiniteCodeRoundTrips() {
    assertEquals(448f, Fp8Codec.decode((byte) 0x7e));
    assertEquals(0x1p-6f, Fp8Codec.decode((byte) 0x08), "smallest normal");
    assertEquals(0x1p-9f, Fp8Codec.decode((byte) 0x01), "smallest subnormal");
    assertEquals(-1.5f, Fp8Codec.decode((byte) 0xbc));
    assertTrue(Float.isNaN(Fp8Codec.decode((byte) 0x7f)) && Float.isNaN(Fp8Codec.decode((byte) 0xff)));
    for (int c = 0; c < 256; c++) {
      if ((c & 0x7f) != 0x7f) {
        assertEquals((byte) c, Fp8Codec.encode(Fp8Codec.decode((byte) c)), "code " + c);
      }
    }
  }

  @Test
  void roundsToNearestWithTiesToTheEvenCode() {
    for (int c = 0; c < 0x7e; c++) { // adjacent positive codes c, c + 1 (both finite)
      float lo = Fp8Codec.decode((byte) c);
      float hi = Fp8Codec.decode((byte) (c + 1));
      float mid = (lo + hi) / 2; // exact: a few bits more than e4m3
      byte even = (byte) ((c & 1) == 0 ? c : c + 1);
      assertEquals(even, Fp8Codec.encode(mid), "tie between codes " + c + " and " + (c + 1));
      assertEquals((byte) c, Fp8Codec.encode(Math.nextDown(mid)), "below the midpoint of " + c);
      assertEquals((byte) (c + 1), Fp8Codec.encode(Math.nextUp(mid)), "above the midpoint of " + c);
      assertEquals((byte) (c | 0x80), Fp8Codec.encode(-Math.nextDown(mid)), "negative, below the midpoint");
    }
  }

  @Test
  void saturatesToTheLargestFiniteValueAndKeepsTheSignOfZero() {
    for (float big : new float[] {448f, 460f, 464f, 500f, 1e9f, Float.POSITIVE_INFINITY}) {
      assertEquals((byte) 0x7e, Fp8Codec.encode(big), "" + big);
      assertEquals((byte) 0xfe, Fp8Codec.encode(-big), "" + -big);
    }
    assertEquals((byte) 0x7f, Fp8Codec.encode(Float.NaN));
    assertEquals((byte) 0x80, Fp8Codec.encode(-0f));
    assertEquals((byte) 0x80, Fp8Codec.encode(-1e-9f), "a negative value that rounds to zero");
    assertEquals((byte) 0x00, Fp8Codec.encode(0x1p-10f), "half the smallest subnormal: a tie, to the even 0");
  }

  @Test
  void blockQuantizationScalesEachBlocksLargestMagnitudeTo448() {
    int rows = 130;
    int cols = 200;
    float[] w = new float[rows * cols];
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < w.length; i++) {
      int c = i % cols;
      w[i] = c >= 128 && i / cols < 128 ? 0 : (float) (r.nextDouble() - 0.5) * (c < 128 ? 0.1f : 4f);
    }
    Fp8Codec.Quantized q = Fp8Codec.quantize(w, rows, cols, 128);
    assertEquals(2 * 2, q.scales().length);
    assertEquals(1f, q.scales()[1], "the all-zero block (rows 0..127, columns 128..199) has scale 1");
    for (int b = 0; b < 4; b++) {
      int r0 = (b / 2) * 128;
      int c0 = (b % 2) * 128;
      float amax = 0;
      for (int i = r0; i < Math.min(rows, r0 + 128); i++) {
        for (int j = c0; j < Math.min(cols, c0 + 128); j++) {
          amax = Math.max(amax, Math.abs(w[i * cols + j]));
        }
      }
      if (amax > 0) {
        assertEquals(amax / 448f, q.scales()[b], "block " + b);
      }
    }
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        float s = q.scales()[(i / 128) * 2 + j / 128];
        double err = Math.abs(w[i * cols + j] - q.dequantized(i, j));
        // half a unit in the last place: 2^-4 relative for normals, 2^-10 · scale among the subnormals
        assertTrue(err <= Math.max(Math.abs(w[i * cols + j]) * 0x1p-4, s * 0x1p-10) * (1 + 1e-6),
            String.format("(%d, %d): %s -> %s", i, j, w[i * cols + j], q.dequantized(i, j)));
      }
    }
  }
}

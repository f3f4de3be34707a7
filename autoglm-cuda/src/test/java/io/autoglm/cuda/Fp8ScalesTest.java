package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.BackendOptions;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The kernels' view of FP8 scales against the checkpoint's definition: for every element (r, c) of a weight stacked
 * from parts, {@code scale(r, c)} must be the part's {@code scaleInv[(r - offset) / blockRows][c / blockCols]}.
 */
class Fp8ScalesTest {
  private final SplittableRandom random = new SplittableRandom(7);

  private Fp8Scales.Part part(String name, int rows, int cols, int br, int bc) {
    int n = ((rows + br - 1) / br) * ((cols + bc - 1) / bc);
    float[] s = new float[n];
    for (int i = 0; i < n; i++) {
      s[i] = (float) (0.001 + random.nextDouble());
    }
    return new Fp8Scales.Part(name, rows, cols, br, bc, s);
  }

  /** Every element's scale as the kernels find it, against the parts' own block grids; returns the layout. */
  private static Fp8Scales.Layout checked(List<Fp8Scales.Part> parts) {
    Fp8Scales.Layout l = Fp8Scales.assemble(parts);
    int offset = 0;
    for (Fp8Scales.Part p : parts) {
      int perRow = (p.cols() + p.blockCols() - 1) / p.blockCols();
      for (int r = 0; r < p.rows(); r++) {
        for (int c = 0; c < p.cols(); c++) {
          float expected = p.scales()[(r / p.blockRows()) * perRow + c / p.blockCols()];
          float got = l.scale(offset + r, c);
          if (expected != got) {
            throw new AssertionError(String.format("%s (%d, %d): scale %s, expected %s (layout row shift %d, column "
                + "shift %d)", p.name(), r, c, got, expected, l.rowShift(), l.colShift()));
          }
        }
      }
      offset += p.rows();
    }
    return l;
  }

  @Test
  void oneWeightKeepsItsBlockGrid() {
    Fp8Scales.Layout l = checked(List.of(part("w", 300, 512, 128, 128)));
    assertEquals(7, l.rowShift());
    assertEquals(7, l.colShift());
    assertEquals(4, l.scaleCols());
    assertEquals(3 * 4, l.scales().length, "no expansion: the checkpoint's 3 × 4 scales");
  }

  @Test
  void blockPitchPadsScaleRowsOf128BlocksToFourAndKeepsEveryElementsScale() {
    // glm-4-9b's down_proj: 13,696 columns = 107 blocks, which cuBLASLt's BLK128x128 scales want pitched at 108
    Fp8Scales.Part p = part("down", 300, 13_696, 128, 128);
    Fp8Scales.Layout assembled = checked(List.of(p));
    Fp8Scales.Layout pitched = Fp8Scales.blockPitch(assembled);
    assertEquals(107, assembled.scaleCols());
    assertEquals(108, pitched.scaleCols());
    assertEquals(3 * 108, pitched.scales().length);
    for (int r = 0; r < 300; r += 7) {
      for (int c = 0; c < 13_696; c += 61) {
        assertEquals(assembled.scale(r, c), pitched.scale(r, c), "scale of (" + r + ", " + c + ")");
      }
    }
    assertEquals(1f, pitched.scales()[107], "the padding holds ones");
    // already a multiple of 4, or not 128×128 blocks: unchanged
    Fp8Scales.Layout four = Fp8Scales.assemble(List.of(part("o", 256, 512, 128, 128)));
    assertTrue(four == Fp8Scales.blockPitch(four));
    Fp8Scales.Layout perRow = Fp8Scales.assemble(List.of(part("r", 8, 13_696, 1, 13_696)));
    assertTrue(perRow == Fp8Scales.blockPitch(perRow));
  }

  @Test
  void partsOfWholeBlocksShareScaleRowsAndTheLastMayEndInsideABlock() {
    Fp8Scales.Layout l = checked(List.of(part("q", 256, 384, 128, 128), part("k", 128, 384, 128, 128),
        part("v", 100, 384, 128, 128)));
    assertEquals(7, l.rowShift());
    assertEquals((2 + 1 + 1) * 3, l.scales().length);
  }

  @Test
  void partsThatEndInsideABlockGetAScaleRowPerWeightRow() {
    Fp8Scales.Layout l = checked(List.of(part("q", 40, 256, 128, 128), part("k", 24, 256, 128, 128),
        part("v", 24, 256, 128, 128)));
    assertEquals(0, l.rowShift());
    assertEquals(88 * 2, l.scales().length);
  }

  @Test
  void blockHeightsThatAreNoPowerOfTwoOrDifferAreExpandedPerRow() {
    assertEquals(0, checked(List.of(part("w", 200, 128, 96, 128))).rowShift());
    assertEquals(0, checked(List.of(part("gate", 128, 128, 128, 128), part("up", 128, 128, 64, 128))).rowShift());
  }

  @Test
  void perChannelScalesMapEveryColumnToOneScale() {
    Fp8Scales.Layout l = checked(List.of(part("w", 50, 100, 1, 100)));
    assertEquals(Fp8Scales.WHOLE_ROW, l.colShift());
    assertEquals(1, l.scaleCols());
    assertEquals(0, l.rowShift());
  }

  @Test
  void mixedBlockWidthsUseTheirCommonPowerOfTwoGranularity() {
    Fp8Scales.Layout l = checked(List.of(part("a", 128, 384, 128, 128), part("b", 128, 384, 128, 48)));
    assertEquals(4, l.colShift(), "gcd(128, 48) = 16");
    Fp8Scales.Layout w = checked(List.of(part("a", 64, 256, 64, 256), part("b", 64, 256, 64, 64)));
    assertEquals(6, w.colShift(), "the whole-row part follows the 64-wide part");
  }

  @Test
  void blocksNarrowerThanSixteenColumnsAreRejectedByName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Fp8Scales.assemble(List.of(part("model.layers.0.mlp.down_proj.weight", 16, 96, 16, 24))));
    assertTrue(e.getMessage().contains("model.layers.0.mlp.down_proj.weight") && e.getMessage().contains("[24]"),
        e.getMessage());
  }

  @Test
  void aScaleTensorOfTheWrongSizeIsRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Fp8Scales.Part("w", 256, 256, 128, 128, new float[3]));
    assertTrue(e.getMessage().contains("3 scales") && e.getMessage().contains("expected 4"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Fp8Scales.assemble(List.of(part("a", 128, 256, 128, 128),
        part("b", 128, 128, 128, 128))), "parts with different column counts");
  }

  private static TensorSlice bf16(String name, long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return new TensorSlice(name, Path.of("t"), DType.BF16, shape, ByteBuffer.allocate((int) (2 * n)));
  }

  @Test
  void quantizationAtLoadTakesTwoDimensionalUnquantizedWeightsOfSixteenColumnMultiples() {
    List<String> taken = new ArrayList<>();
    for (TensorSlice s : List.of(bf16("q", 64, 32), bf16("down", 32, 64), bf16("bias", 64), bf16("odd", 32, 40),
        new TensorSlice("f32", Path.of("t"), DType.F32, new long[] {8, 16}, ByteBuffer.allocate(512)))) {
      if (Fp8Loader.quantizable(s)) {
        taken.add(s.name());
      }
    }
    assertEquals(List.of("q", "down", "f32"), taken, "1-D and 40 columns (no 16-column multiple) are not");
  }

  @Test
  void underQuantizationAtLoadOnlyLinearWeightsBecomeFp8() {
    Fp8Loader loader = new Fp8Loader(0, b -> 0, true);
    // the backend passes linear = true from linearWeight and moeWeights' experts only (never for the embedding,
    // norms, the LM head or the router, which arrive through weight / fusedWeight)
    assertTrue(loader.wantsFp8(List.of(bf16("model.layers.0.self_attn.o_proj.weight", 64, 32)), true));
    assertFalse(loader.wantsFp8(List.of(bf16("lm_head.weight", 100, 32)), false));
    assertFalse(new Fp8Loader(0, b -> 0, false).wantsFp8(List.of(bf16("w", 64, 32)), true), "no quantization asked");
  }

  @Test
  void fp8WeightsNeedSixteenColumnMultiplesAndNoMixOfQuantizedAndPlainParts() {
    Fp8Loader loader = new Fp8Loader(0, bytes -> {
      throw new AssertionError("no device memory may be taken for a rejected weight");
    }, false);
    TensorSlice scale = new TensorSlice("w_scale_inv", Path.of("t"), DType.F32, new long[] {1, 1},
        ByteBuffer.allocate(4));
    TensorSlice odd = new TensorSlice("model.layers.0.self_attn.o_proj.weight", Path.of("t"), DType.F8_E4M3,
        new long[] {8, 40}, ByteBuffer.allocate(320), java.util.Optional.of(new io.autoglm.safetensors.BlockScale(
            scale, 128, 128)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> loader.load(List.of(odd), 40, false));
    assertTrue(e.getMessage().contains("o_proj") && e.getMessage().contains("40 columns"), e.getMessage());
    IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class,
        () -> loader.wantsFp8(List.of(odd, bf16("model.layers.0.self_attn.k_proj.weight", 8, 40)), true));
    assertTrue(mixed.getMessage().contains("mixes FP8"), mixed.getMessage());
    assertFalse(loader.wantsFp8(List.of(bf16("model.layers.0.self_attn.k_proj.weight", 8, 32)), true),
        "no quantization at load: bf16 stays bf16");
    assertTrue(new Fp8Loader(0, b -> 0, true).wantsFp8(List.of(bf16("model.layers.0.mlp.down_proj.weight", 8, 32)),
        true));
  }

  private static BackendOptions options(Map<String, String> properties) {
    return new BackendOptions(List.of(), 0.9, properties);
  }

  @Test
  void theQuantizationPropertyIsCoresFp8OrNothingAndErrorsNameTheCudaBackend() {
    assertFalse(Fp8Loader.quantizeAtLoad(options(Map.of())));
    assertTrue(Fp8Loader.quantizeAtLoad(options(Map.of(BackendOptions.QUANTIZATION, "fp8"))));
    for (String bad : List.of("int4", "int8", "none", "FP8")) { // the builder sends fp8 or int8 only
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Fp8Loader.quantizeAtLoad(options(Map.of(BackendOptions.QUANTIZATION, bad))));
      assertTrue(e.getMessage().contains(BackendOptions.QUANTIZATION) && e.getMessage().contains(" " + bad + ";")
          && e.getMessage().contains("the cuda backend"), e.getMessage());
      assertEquals(assertThrows(IllegalArgumentException.class, () -> options(Map.of(BackendOptions.QUANTIZATION,
          bad)).quantizeFp8("cuda")).getMessage(), e.getMessage(), "core's rule and message");
    }
  }
}

package io.autoglm.safetensors;

/**
 * The dequantization scales of a block-scaled FP8 weight, as zai-org's and DeepSeek's FP8 checkpoints store them
 * ({@code quantization_config}: {@code quant_method fp8}, {@code weight_block_size [blockRows, blockCols]}): weight
 * {@code W[r][c] = e4m3(Q[r][c]) × scaleInv[r / blockRows][c / blockCols]}, the scale tensor being the checkpoint's
 * {@code <name>_scale_inv} of shape {@code [ceil(rows / blockRows), ceil(cols / blockCols)]} (F32 or BF16).
 * Per-channel scales are {@code blockRows = 1, blockCols = cols}.
 */
public record BlockScale(TensorSlice scaleInv, int blockRows, int blockCols) {
  public BlockScale {
    if (blockRows < 1 || blockCols < 1) {
      throw new IllegalArgumentException(String.format("block scale %s has block %d×%d; expected positive sizes",
          scaleInv.name(), blockRows, blockCols));
    }
    if (scaleInv.dtype() != DType.F32 && scaleInv.dtype() != DType.BF16) {
      throw new IllegalArgumentException(String.format("block scale %s has dtype %s; expected F32 or BF16",
          scaleInv.name(), scaleInv.dtype()));
    }
  }

  /** Scale element {@code i} (row-major) as fp32. */
  public static float value(TensorSlice scaleInv, int i) {
    return scaleInv.dtype() == DType.F32 ? scaleInv.data().getFloat(i * 4)
        : Float.intBitsToFloat((scaleInv.data().getShort(i * 2) & 0xffff) << 16);
  }

  /** The scale of weight element (r, c). */
  public float at(int r, int c) {
    return value(scaleInv, (r / blockRows) * scaleInv.dim(1) + c / blockCols);
  }

  @Override
  public String toString() {
    return "scale " + scaleInv.name() + " per " + blockRows + "×" + blockCols;
  }
}

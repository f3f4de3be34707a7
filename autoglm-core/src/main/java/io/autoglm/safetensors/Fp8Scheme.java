package io.autoglm.safetensors;

import java.util.List;

/**
 * How a block-scaled FP8 checkpoint stores its weights: config.json's {@code quantization_config} of
 * {@code quant_method "fp8"}, {@code fmt "e4m3"}, {@code activation_scheme "dynamic"} (the form of zai-org's
 * GLM-4.5-FP8 and DeepSeek-V3). Each quantized weight {@code X} is an {@link DType#F8_E4M3} tensor with a companion
 * {@code X_scale_inv} of shape {@code [ceil(rows / blockRows), ceil(cols / blockCols)]} ({@link BlockScale}).
 *
 * @param blockRows rows per scale block ({@code weight_block_size[0]})
 * @param blockCols columns per scale block ({@code weight_block_size[1]})
 * @param modulesToNotConvert modules that stay unquantized ({@code modules_to_not_convert}, e.g. {@code lm_head}):
 *     a tensor {@code M.*} of one of them must not be F8_E4M3
 */
public record Fp8Scheme(int blockRows, int blockCols, List<String> modulesToNotConvert) {
  /** The suffix of a weight's scale tensor: {@code model.layers.0.mlp.down_proj.weight_scale_inv}. */
  public static final String SCALE_SUFFIX = "_scale_inv";

  /** 128 × 128 blocks, as every published GLM and DeepSeek FP8 checkpoint has them. */
  public static final Fp8Scheme PUBLISHED = new Fp8Scheme(128, 128, List.of());

  public Fp8Scheme {
    if (blockRows < 1 || blockCols < 1) {
      throw new IllegalArgumentException(String.format(
          "quantization_config.weight_block_size [%d, %d] must hold two integers >= 1", blockRows, blockCols));
    }
    modulesToNotConvert = List.copyOf(modulesToNotConvert);
  }

  /** Whether {@code tensor} belongs to a module listed in modules_to_not_convert. */
  public boolean keepsUnquantized(String tensor) {
    return modulesToNotConvert.stream().anyMatch(m -> tensor.equals(m) || tensor.startsWith(m + "."));
  }

  @Override
  public String toString() {
    return "fp8 e4m3, " + blockRows + "×" + blockCols + " blocks";
  }
}

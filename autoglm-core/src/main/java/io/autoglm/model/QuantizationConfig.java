package io.autoglm.model;

import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.Fp8Scheme;
import java.util.List;
import java.util.Optional;

/**
 * Reads config.json's {@code quantization_config}. The one supported form is block-scaled FP8 as zai-org and
 * DeepSeek publish it: {@code {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
 * "weight_block_size": [128, 128], "modules_to_not_convert": [...]}} ({@code fmt} and {@code activation_scheme}
 * may be absent and then take these values; {@code modules_to_not_convert} may be absent or null). Anything else is
 * refused, naming the field and the value: a checkpoint whose weights could not be read as stored must not load.
 */
final class QuantizationConfig {
  private QuantizationConfig() {}

  static Optional<Fp8Scheme> read(ConfigReader root) {
    if (!root.present("quantization_config")) {
      return Optional.empty();
    }
    ConfigReader q = root.optionalObject("quantization_config");
    String method = q.optionalString("quant_method").orElseThrow(() -> new ModelLoadException(
        "quantization_config.quant_method is missing (required: \"fp8\")"));
    require("quant_method", method, "fp8", " (block-scaled E4M3 as in GLM-4.5-FP8; other methods are not supported)");
    require("fmt", q.optionalString("fmt").orElse("e4m3"), "e4m3", " (e5m2 is not supported)");
    require("activation_scheme", q.optionalString("activation_scheme").orElse("dynamic"), "dynamic",
        " (static activation scales are not supported)");
    List<Integer> block = q.optionalIntList("weight_block_size", 1).orElseThrow(() -> new ModelLoadException(
        "quantization_config.weight_block_size is missing (required: [rows, cols], e.g. [128, 128]; per-tensor FP8 "
            + "is not supported)"));
    if (block.size() != 2) {
      throw new ModelLoadException("quantization_config.weight_block_size (" + block + ") must be [rows, cols], two "
          + "integers >= 1");
    }
    List<String> keep = q.optionalStringList("modules_to_not_convert").orElse(List.of());
    return Optional.of(new Fp8Scheme(block.get(0), block.get(1), keep));
  }

  private static void require(String field, String value, String expected, String why) {
    if (!value.equals(expected)) {
      throw new ModelLoadException(String.format("quantization_config.%s (\"%s\") is not supported; expected \"%s\"%s",
          field, value, expected, why));
    }
  }
}

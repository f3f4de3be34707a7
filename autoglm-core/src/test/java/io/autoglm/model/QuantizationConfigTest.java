package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.Fp8Scheme;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * config.json's quantization_config: the published block-scaled FP8 form is read (GLM-4.5-FP8's and DeepSeek-V3's
 * fields), and any other form is refused naming the field, the value and what is supported.
 */
class QuantizationConfigTest {
  private static JsonObject config(String quantization) {
    return JsonParser.parseString("""
        {"architectures":["Glm4ForCausalLM"],"hidden_size":64,"intermediate_size":160,"num_hidden_layers":1,
         "num_attention_heads":4,"vocab_size":10,"quantization_config":%s}""".formatted(quantization))
        .getAsJsonObject();
  }

  @Test
  void readsThePublishedForm() {
    ModelConfig c = ModelConfig.fromJson(config("""
        {"activation_scheme":"dynamic","fmt":"e4m3","quant_method":"fp8","weight_block_size":[128,128],
         "modules_to_not_convert":["lm_head","model.layers.0.mlp.gate"]}"""));
    assertEquals(Optional.of(new Fp8Scheme(128, 128, List.of("lm_head", "model.layers.0.mlp.gate"))),
        c.quantization());
    assertEquals(Optional.of(new Fp8Scheme(64, 32, List.of())), ModelConfig.fromJson(config(
        "{\"quant_method\":\"fp8\",\"weight_block_size\":[64,32],\"modules_to_not_convert\":null}")).quantization());
    assertEquals(Optional.empty(), ModelConfig.fromJson(config("null")).quantization());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"quant_method\":\"awq\",\"weight_block_size\":[128,128]}|quantization_config.quant_method (\"awq\") is not "
          + "supported; expected \"fp8\" (block-scaled E4M3 as in GLM-4.5-FP8; other methods are not supported)",
      "{\"weight_block_size\":[128,128]}|quantization_config.quant_method is missing (required: \"fp8\")",
      "{\"quant_method\":\"fp8\",\"fmt\":\"e5m2\",\"weight_block_size\":[128,128]}|quantization_config.fmt "
          + "(\"e5m2\") is not supported; expected \"e4m3\" (e5m2 is not supported)",
      "{\"quant_method\":\"fp8\",\"activation_scheme\":\"static\",\"weight_block_size\":[128,128]}|"
          + "quantization_config.activation_scheme (\"static\") is not supported; expected \"dynamic\" (static "
          + "activation scales are not supported)",
      "{\"quant_method\":\"fp8\"}|quantization_config.weight_block_size is missing (required: [rows, cols], e.g. "
          + "[128, 128]; per-tensor FP8 is not supported)",
      "{\"quant_method\":\"fp8\",\"weight_block_size\":[128]}|quantization_config.weight_block_size ([128]) must be "
          + "[rows, cols], two integers >= 1",
      "{\"quant_method\":\"fp8\",\"weight_block_size\":[0,128]}|quantization_config.weight_block_size[0] (0) must "
          + "be an integer >= 1",
      "{\"quant_method\":\"fp8\",\"weight_block_size\":[128,128],\"modules_to_not_convert\":[1]}|"
          + "quantization_config.modules_to_not_convert[0] (1) must be a string",
      "[1]|quantization_config ([1]) must be an object or null"})
  void refusesOtherForms(String json, String expected) {
    assertEquals(expected, assertThrows(ModelLoadException.class, () -> ModelConfig.fromJson(config(json)))
        .getMessage());
  }
}

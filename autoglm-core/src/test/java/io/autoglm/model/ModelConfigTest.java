package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.Fixtures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** config.json in the transformers 4.x and 5.x forms gives the same shapes; defaults hold when fields are absent. */
class ModelConfigTest {
  @Test
  void bothFormsOfTheFixtures() {
    ModelConfig v4 = ModelConfig.load(Fixtures.model("glm-tiny"));
    ModelConfig v5 = ModelConfig.load(Fixtures.model("glm4-tiny"));
    assertEquals(Architecture.GLM, v4.architecture());
    assertEquals(Architecture.GLM4, v5.architecture());
    assertEquals(8, v4.rotaryDim());
    assertEquals(8, v5.rotaryDim());
    assertEquals(10000.0, v4.ropeTheta());
    assertEquals(10000.0, v5.ropeTheta());
    assertEquals("float32", v4.dtype());
    assertEquals("bfloat16", ModelConfig.load(Fixtures.model("glm4-tiny-bf16")).dtype());
    assertEquals(List.of(2, 3), v5.eosTokenIds());
  }

  @Test
  void partialRotaryDefaultsToHalf() {
    JsonObject o = JsonParser.parseString("""
        {"architectures":["GlmForCausalLM"],"hidden_size":64,"intermediate_size":160,"num_hidden_layers":1,
         "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":10,"rope_theta":500.0}""").getAsJsonObject();
    ModelConfig c = ModelConfig.fromJson(o);
    assertEquals(8, c.rotaryDim());
    assertEquals(500.0, c.ropeTheta());
  }

  @Test
  void generationConfigEosIds() {
    GenerationDefaults d = GenerationDefaults.load(Fixtures.model("glm4-tiny"), ModelConfig.load(Fixtures.model("glm4-tiny")));
    assertEquals(List.of(2, 3), d.eosTokenIds());
  }
}

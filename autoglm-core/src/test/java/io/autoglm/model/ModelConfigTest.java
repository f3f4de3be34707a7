package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.Fixtures;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * config.json in the transformers 4.x and 5.x forms gives the same shapes; absent fields take transformers' defaults;
 * every bad field is an error naming the field, what it must be and the value.
 */
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
         "num_attention_heads":4,"num_key_value_heads":2,"head_dim":16,"vocab_size":10,"rope_theta":500.0}""")
        .getAsJsonObject();
    ModelConfig c = ModelConfig.fromJson(o);
    assertEquals(8, c.rotaryDim());
    assertEquals(500.0, c.ropeTheta());
  }

  @Test
  void generationConfigEosIds() {
    GenerationDefaults d = GenerationDefaults.load(Fixtures.model("glm4-tiny"), ModelConfig.load(Fixtures.model("glm4-tiny")));
    assertEquals(List.of(2, 3), d.eosTokenIds());
  }

  private static final String MINIMAL = """
      {"architectures":["%s"],"hidden_size":64,"intermediate_size":160,"num_hidden_layers":1,
       "num_attention_heads":4,"vocab_size":10%s}""";

  private static JsonObject minimal(String arch, String extra) {
    return JsonParser.parseString(String.format(MINIMAL, arch, extra)).getAsJsonObject();
  }

  private static final String MOE_FIELDS = ",\"n_routed_experts\":4,\"num_experts_per_tok\":2,"
      + "\"moe_intermediate_size\":8,\"num_key_value_heads\":2";

  /**
   * Absent fields take the defaults of transformers' config classes (5.x {@code GlmConfig}, {@code Glm4Config},
   * {@code Glm4MoeConfig}; the values are theirs, quoted in ModelConfig's table), not values of our own.
   */
  @Test
  void absentFieldsTakeTransformersDefaults() {
    for (String arch : List.of("GlmForCausalLM", "Glm4ForCausalLM")) {
      ModelConfig c = ModelConfig.fromJson(minimal(arch, ""));
      assertEquals(2, c.numKvHeads(), arch);
      assertEquals(128, c.headDim(), arch);
      assertEquals(1.5625e-07, c.rmsNormEps(), arch);
      assertEquals(131072, c.maxPositionEmbeddings(), arch);
      assertEquals(true, c.attentionBias(), arch);
      assertEquals(false, c.tieWordEmbeddings(), arch);
      assertEquals(10000.0, c.ropeTheta(), arch);
      assertEquals(64, c.rotaryDim(), arch); // int(128 × 0.5)
      assertEquals(List.of(151329, 151336, 151338), c.eosTokenIds(), arch);
    }
    JsonObject json = minimal("Glm4MoeForCausalLM", MOE_FIELDS);
    json.remove("num_key_value_heads");
    json.addProperty("num_attention_heads", 8);
    ModelConfig moe = ModelConfig.fromJson(json);
    assertEquals(8, moe.numKvHeads());
    assertEquals(8, moe.headDim()); // getattr(config, "head_dim", hidden_size // num_attention_heads)
    assertEquals(1e-5, moe.rmsNormEps());
    assertEquals(false, moe.attentionBias());
    assertEquals(false, moe.useQkNorm());
    assertEquals(List.of(), moe.eosTokenIds());
    assertEquals(new MoeConfig(4, 1, 2, 8, 1, 1, 1, 1.0, true, 0), moe.moe().orElseThrow());
  }

  @Test
  void missingRequiredFieldsAreNamed() {
    for (String field : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "vocab_size")) {
      JsonObject o = minimal("GlmForCausalLM", "");
      o.remove(field);
      assertEquals(field + " is missing (required: an integer >= 1)", rejected(o), field);
    }
    for (String field : List.of("n_routed_experts", "num_experts_per_tok", "moe_intermediate_size")) {
      JsonObject o = minimal("Glm4MoeForCausalLM", MOE_FIELDS);
      o.remove(field);
      assertEquals(field + " is missing (required by Glm4MoeForCausalLM: an integer >= 1)", rejected(o), field);
    }
    JsonObject o = minimal("GlmForCausalLM", "");
    o.remove("architectures");
    assertTrue(rejected(o).startsWith("architectures is missing (required: a list naming one of [GlmForCausalLM"));
  }

  /** Each bad value is named with its field, what the field must be and the value as written. */
  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "num_hidden_layers | \"abc\" | num_hidden_layers (\"abc\") must be an integer >= 1",
      "num_hidden_layers | null | num_hidden_layers (null) must be an integer >= 1",
      "num_hidden_layers | 1e12 | num_hidden_layers (1e12) must be an integer >= 1",
      "num_hidden_layers | 1000000000000 | num_hidden_layers (1000000000000) must be an integer >= 1 and <= 2147483647",
      "num_hidden_layers | 2.5 | num_hidden_layers (2.5) must be an integer >= 1",
      "num_hidden_layers | 2.0 | num_hidden_layers (2.0) must be an integer >= 1",
      "num_hidden_layers | true | num_hidden_layers (true) must be an integer >= 1",
      "num_hidden_layers | [3] | num_hidden_layers ([3]) must be an integer >= 1",
      "num_hidden_layers | `{\"n\":3}` | num_hidden_layers ({\"n\":3}) must be an integer >= 1",
      "num_hidden_layers | 0 | num_hidden_layers (0) must be an integer >= 1",
      "hidden_size | -64 | hidden_size (-64) must be an integer >= 1",
      "vocab_size | 99999999999999999999999 | vocab_size (99999999999999999999999) must be an integer >= 1 and <= 2147483647",
      "head_dim | null | head_dim (null) must be an integer >= 1",
      "num_key_value_heads | \"2\" | num_key_value_heads (\"2\") must be an integer >= 1",
      "max_position_embeddings | 3000000000 | max_position_embeddings (3000000000) must be an integer >= 1 and <= 2147483647",
      "rms_norm_eps | \"1e-5\" | rms_norm_eps (\"1e-5\") must be a number > 0",
      "rms_norm_eps | null | rms_norm_eps (null) must be a number > 0",
      "rms_norm_eps | 0 | rms_norm_eps (0) must be a number > 0",
      "rms_norm_eps | 1e999 | rms_norm_eps (1e999) must be a number > 0",
      "rope_theta | false | rope_theta (false) must be a number > 0",
      "partial_rotary_factor | 2 | partial_rotary_factor (2) must be a number in (0, 1]",
      "attention_bias | \"yes\" | attention_bias (\"yes\") must be true or false",
      "attention_bias | 1 | attention_bias (1) must be true or false",
      "tie_word_embeddings | null | tie_word_embeddings (null) must be true or false",
      "eos_token_id | \"2\" | eos_token_id (\"2\") must be an integer >= 0 or a list of them",
      "eos_token_id | `[2, \"x\"]` | eos_token_id[1] (\"x\") must be an integer >= 0",
      "eos_token_id | [-1] | eos_token_id[0] (-1) must be an integer >= 0",
      "architectures | \"GlmForCausalLM\" | architectures (\"GlmForCausalLM\") must be a list of class names",
      "architectures | [] | architectures ([]) must be a list of class names",
      "rope_parameters | 5 | rope_parameters (5) must be an object or null",
      "rope_parameters | `{\"rope_theta\": \"big\"}` | rope_parameters.rope_theta (\"big\") must be a number > 0",
      "rope_parameters | `{\"rope_type\": \"yarn\"}` | rope type yarn is not supported (default)",
      "rope_scaling | `{\"type\": \"linear\", \"factor\": 2}` | rope type linear is not supported (default)",
      "dtype | 5 | dtype (5) must be a string",
  })
  void badValuesNameFieldExpectationAndValue(String field, String json, String expected) {
    JsonObject o = minimal("GlmForCausalLM", "");
    o.add(field, JsonParser.parseString(json));
    assertEquals(expected, rejected(o));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', value = {
      "n_group | \"2\" | n_group (\"2\") must be an integer >= 1",
      "n_shared_experts | 1.5 | n_shared_experts (1.5) must be an integer >= 0",
      "norm_topk_prob | \"true\" | norm_topk_prob (\"true\") must be true or false",
      "routed_scaling_factor | null | routed_scaling_factor (null) must be a number > 0",
      "num_nextn_predict_layers | -1 | num_nextn_predict_layers (-1) must be an integer >= 0",
      "use_qk_norm | \"false\" | use_qk_norm (\"false\") must be true or false",
  })
  void badMoeValuesNameFieldExpectationAndValue(String field, String json, String expected) {
    JsonObject o = minimal("Glm4MoeForCausalLM", MOE_FIELDS);
    o.add(field, JsonParser.parseString(json));
    assertEquals(expected, rejected(o));
  }

  @Test
  void longValuesAreCutInMessages() {
    JsonObject o = minimal("GlmForCausalLM", "");
    o.addProperty("num_hidden_layers", "x".repeat(1000));
    assertEquals("num_hidden_layers (\"" + "x".repeat(59) + "… (1002 chars)) must be an integer >= 1", rejected(o));
  }

  @Test
  void loadNamesTheFileAndRejectsMalformedJson(@TempDir Path dir) throws IOException {
    Path config = dir.resolve("config.json");
    Files.writeString(config, String.format(MINIMAL, "GlmForCausalLM", ",\"num_hidden_layers\":\"abc\""));
    assertEquals(config + ": num_hidden_layers (\"abc\") must be an integer >= 1", loadFails(dir));
    Files.writeString(config, "[1, 2]");
    assertEquals(config + " must hold a JSON object, got [1,2]", loadFails(dir));
    Files.writeString(config, "{\"a\": 1} {\"b\": 2}");
    assertTrue(loadFails(dir).startsWith("cannot read " + config + ": "), loadFails(dir));
    Files.writeString(config, "{\"a\": NaN}");
    assertTrue(loadFails(dir).startsWith("cannot read " + config + ": "), loadFails(dir));
    Files.write(config, new byte[] {'{', (byte) 0xff, '}'});
    assertTrue(loadFails(dir).startsWith("cannot read " + config + ": "), loadFails(dir));
  }

  @Test
  void generationConfigFieldsAreChecked(@TempDir Path dir) throws IOException {
    ModelConfig c = ModelConfig.fromJson(minimal("GlmForCausalLM", ",\"eos_token_id\":[2]"));
    Path gen = dir.resolve("generation_config.json");
    Files.writeString(gen, "{\"temperature\": null, \"top_k\": 5, \"eos_token_id\": 3}");
    GenerationDefaults d = GenerationDefaults.load(dir, c);
    assertTrue(d.temperature().isEmpty());
    assertEquals(5, d.topK().getAsInt());
    assertEquals(List.of(3, 2), d.eosTokenIds());
    for (String[] bad : new String[][] {
        {"{\"temperature\": \"hot\"}", "temperature (\"hot\") must be a number >= 0"},
        {"{\"top_k\": 1.5}", "top_k (1.5) must be an integer >= 0"},
        {"{\"top_p\": 2}", "top_p (2) must be a number in [0, 1]"},
        {"{\"do_sample\": \"yes\"}", "do_sample (\"yes\") must be true or false"},
        {"{\"eos_token_id\": [\"a\"]}", "eos_token_id[0] (\"a\") must be an integer >= 0"}}) {
      Files.writeString(gen, bad[0]);
      ModelLoadException e = assertThrows(ModelLoadException.class, () -> GenerationDefaults.load(dir, c));
      assertEquals(gen + ": " + bad[1], e.getMessage());
    }
  }

  private static String rejected(JsonObject o) {
    return assertThrows(ModelLoadException.class, () -> ModelConfig.fromJson(o)).getMessage();
  }

  private static String loadFails(Path dir) {
    return assertThrows(ModelLoadException.class, () -> ModelConfig.load(dir)).getMessage();
  }
}

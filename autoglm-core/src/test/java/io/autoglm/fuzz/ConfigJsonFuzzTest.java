package io.autoglm.fuzz;

import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes config.json and generation_config.json parsing ({@link ModelConfig#load}, {@link GenerationDefaults#load})
 * with arbitrary text and bytes, and with valid configs of each architecture whose fields are set to values of every
 * JSON type and of extreme ranges, removed, or whose text is cut or edited. Only ModelLoadException may escape,
 * never a hang. Each property prints its input count ("FUZZ ...").
 */
class ConfigJsonFuzzTest {
  @TempDir Path dir;

  /** Valid configs as field → JSON text: the 4.x GLM form, the 5.x GLM4 form, GLM4-MoE. */
  private static final List<Map<String, String>> BASES = List.of(
      fields("architectures", "[\"GlmForCausalLM\"]", "hidden_size", "64", "intermediate_size", "160",
          "num_hidden_layers", "3", "num_attention_heads", "4", "num_key_value_heads", "2", "head_dim", "16",
          "vocab_size", "384", "rms_norm_eps", "1.5625e-07", "rope_theta", "10000.0", "partial_rotary_factor", "0.5",
          "max_position_embeddings", "512", "attention_bias", "true", "tie_word_embeddings", "false",
          "torch_dtype", "\"float32\"", "eos_token_id", "[2, 3]"),
      fields("architectures", "[\"Glm4ForCausalLM\"]", "hidden_size", "64", "intermediate_size", "160",
          "num_hidden_layers", "3", "num_attention_heads", "4", "num_key_value_heads", "2", "head_dim", "16",
          "vocab_size", "384", "rope_parameters",
          "{\"rope_theta\": 10000.0, \"partial_rotary_factor\": 0.5, \"rope_type\": \"default\"}",
          "dtype", "\"bfloat16\"", "eos_token_id", "2"),
      fields("architectures", "[\"Glm4MoeForCausalLM\"]", "hidden_size", "64", "intermediate_size", "160",
          "num_hidden_layers", "3", "num_attention_heads", "4", "num_key_value_heads", "2", "head_dim", "16",
          "vocab_size", "384", "n_routed_experts", "8", "num_experts_per_tok", "2", "moe_intermediate_size", "48",
          "n_shared_experts", "1", "first_k_dense_replace", "1", "n_group", "1", "topk_group", "1",
          "routed_scaling_factor", "1.5", "norm_topk_prob", "true", "num_nextn_predict_layers", "1",
          "use_qk_norm", "false", "rope_scaling", "null"));

  private static final List<String> FIELDS = List.of("architectures", "hidden_size", "intermediate_size",
      "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "rms_norm_eps",
      "rope_theta", "partial_rotary_factor", "max_position_embeddings", "attention_bias", "tie_word_embeddings",
      "dtype", "torch_dtype", "eos_token_id", "rope_parameters", "rope_scaling", "use_qk_norm", "n_routed_experts",
      "num_experts_per_tok", "moe_intermediate_size", "n_shared_experts", "first_k_dense_replace", "n_group",
      "topk_group", "routed_scaling_factor", "norm_topk_prob", "num_nextn_predict_layers");

  private static final List<String> GENERATION_FIELDS = List.of("eos_token_id", "do_sample", "temperature", "top_p",
      "top_k", "max_new_tokens");

  private static Map<String, String> fields(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  private static String json(Map<String, String> fields) {
    StringBuilder sb = new StringBuilder("{");
    fields.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append('"').append(k).append("\": ").append(v));
    return sb.append('}').toString();
  }

  private void load(FuzzHarness h, byte[] config) throws IOException {
    Files.write(dir.resolve("config.json"), config);
    h.run(() -> ModelConfig.load(dir), () -> new String(config, StandardCharsets.UTF_8));
  }

  @Test
  void arbitraryText() {
    Fuzz.forAll("config.json arbitrary text", 3000,
        r -> Fuzz.anyText(r, 300).getBytes(StandardCharsets.UTF_8), this::load);
  }

  @Test
  void arbitraryBytes() {
    Fuzz.forAll("config.json arbitrary bytes", 3000, r -> Fuzz.bytes(r, 300), this::load);
  }

  @Test
  void mutatedValidConfigs() {
    Fuzz.forAll("config.json mutated valid configs", 5000, r -> {
      Map<String, String> fields = new LinkedHashMap<>(Fuzz.pick(r, BASES));
      for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
        String field = Fuzz.pick(r, FIELDS);
        if (r.nextInt(10) == 0) {
          fields.remove(field);
        } else {
          fields.put(field, JsonValues.value(r));
        }
      }
      return textEdit(json(fields), r.nextInt(4), r);
    }, this::load);
  }

  @Test
  void generationConfigs() throws IOException {
    Files.writeString(dir.resolve("config.json"), json(BASES.get(0)));
    ModelConfig c = ModelConfig.load(dir);
    Fuzz.forAll("generation_config.json mutated", 3000, r -> {
      Map<String, String> fields = new LinkedHashMap<>();
      for (int i = 0, n = r.nextInt(7); i < n; i++) {
        fields.put(Fuzz.pick(r, GENERATION_FIELDS), JsonValues.value(r));
      }
      return textEdit(json(fields), r.nextInt(8) == 0 ? 1 + r.nextInt(3) : 0, r);
    }, (h, text) -> {
      Files.write(dir.resolve("generation_config.json"), text);
      h.run(() -> GenerationDefaults.load(dir, c), () -> new String(text, StandardCharsets.UTF_8));
    });
  }

  /** 0: none; 1: cut at a random point; 2: one char deleted; 3: one char inserted. */
  private static byte[] textEdit(String json, int kind, SplittableRandom r) {
    int at = r.nextInt(json.length());
    String chars = "{}[]\",:0-.e\\ntx\u0000";
    String out = switch (kind) {
      case 1 -> json.substring(0, at);
      case 2 -> json.substring(0, at) + json.substring(at + 1);
      case 3 -> json.substring(0, at) + chars.charAt(r.nextInt(chars.length())) + json.substring(at);
      default -> json;
    };
    return out.getBytes(StandardCharsets.UTF_8);
  }
}

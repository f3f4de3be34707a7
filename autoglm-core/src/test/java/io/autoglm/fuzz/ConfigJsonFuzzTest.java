package io.autoglm.fuzz;

import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.ModelConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzes config.json and generation_config.json parsing ({@link ModelConfig#load}, {@link GenerationDefaults#load})
 * with arbitrary text and bytes, and with valid configs of each architecture whose fields are set to values of every
 * JSON type and of extreme ranges, removed, or whose text is cut or edited. Only ModelLoadException may escape,
 * never a hang. Each property prints its input count ("FUZZ ...").
 */
class ConfigJsonFuzzTest {
  private static final Map<String, FuzzHarness> HARNESSES = new ConcurrentHashMap<>();
  private static Path dir;

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

  @BeforeContainer
  static void createDir() throws IOException {
    dir = Files.createTempDirectory("config-fuzz");
  }

  /** Prints the property's count into its own test output, where the surefire report keeps it. */
  @AfterProperty
  void report() {
    HARNESSES.values().forEach(h -> {
      System.out.println(h.summary());
      h.close();
    });
    HARNESSES.clear();
  }

  @AfterContainer
  static void deleteDir() throws IOException {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }

  private static void load(String name, byte[] config) throws IOException {
    Files.write(dir.resolve("config.json"), config);
    HARNESSES.computeIfAbsent(name, FuzzHarness::new)
        .run(() -> ModelConfig.load(dir), () -> new String(config, StandardCharsets.UTF_8));
  }

  @Property(tries = 1500)
  void arbitraryText(@ForAll @Size(max = 300) String text) throws IOException {
    load("config.json arbitrary text", text.getBytes(StandardCharsets.UTF_8));
  }

  @Property(tries = 1500)
  void arbitraryBytes(@ForAll @Size(max = 300) byte[] bytes) throws IOException {
    load("config.json arbitrary bytes", bytes);
  }

  @Property(tries = 3000)
  void mutatedValidConfigs(@ForAll @IntRange(min = 0, max = 2) int base,
      @ForAll("edits") List<Map.Entry<String, String>> edits, @ForAll @IntRange(min = 0, max = 3) int textEdit,
      @ForAll long seed) throws IOException {
    Map<String, String> fields = new LinkedHashMap<>(BASES.get(base));
    for (Map.Entry<String, String> e : edits) {
      if (e.getValue() == null) {
        fields.remove(e.getKey());
      } else {
        fields.put(e.getKey(), e.getValue());
      }
    }
    load("config.json mutated valid configs", textEdit(json(fields), textEdit, new SplittableRandom(seed)));
  }

  @Property(tries = 1500)
  void generationConfigs(@ForAll("generationEdits") List<Map.Entry<String, String>> edits) throws IOException {
    Map<String, String> fields = new LinkedHashMap<>();
    edits.forEach(e -> fields.put(e.getKey(), e.getValue() == null ? "null" : e.getValue()));
    byte[] text = json(fields).getBytes(StandardCharsets.UTF_8);
    Files.write(dir.resolve("config.json"), json(BASES.get(0)).getBytes(StandardCharsets.UTF_8));
    Files.write(dir.resolve("generation_config.json"), text);
    ModelConfig c = ModelConfig.load(dir);
    HARNESSES.computeIfAbsent("generation_config.json mutated", FuzzHarness::new)
        .run(() -> GenerationDefaults.load(dir, c), () -> new String(text, StandardCharsets.UTF_8));
    Files.delete(dir.resolve("generation_config.json"));
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

  /** A field set to a random value, or removed (value null). */
  @Provide
  Arbitrary<List<Map.Entry<String, String>>> edits() {
    return edit(FIELDS).list().ofMinSize(1).ofMaxSize(3);
  }

  @Provide
  Arbitrary<List<Map.Entry<String, String>>> generationEdits() {
    return edit(GENERATION_FIELDS).list().ofMaxSize(6);
  }

  private static Arbitrary<Map.Entry<String, String>> edit(List<String> fields) {
    return Combinators.combine(Arbitraries.of(fields), JsonValues.value().injectNull(0.1))
        .as((k, v) -> new AbstractMap.SimpleEntry<>(k, v));
  }
}

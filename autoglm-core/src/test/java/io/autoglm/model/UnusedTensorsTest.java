package io.autoglm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.AutoGLM;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint tensors the config leaves unread are named in a warning, except those transformers also drops silently
 * (MTP layers, GLM-4.5's layers 46 / 92 past the last layer, rotary inv_freq buffers). The expected lists come from
 * {@link CheckpointLayout} of the config the checkpoint was written for.
 */
class UnusedTensorsTest {
  private static JsonObject glm4(int layers) {
    return JsonParser.parseString(String.format("""
        {"architectures":["Glm4ForCausalLM"],"hidden_size":64,"intermediate_size":160,"num_hidden_layers":%d,
         "num_attention_heads":4,"num_key_value_heads":2,"head_dim":16,"vocab_size":384,"max_position_embeddings":512,
         "eos_token_id":[2,3]}""", layers)).getAsJsonObject();
  }

  private static JsonObject moe(int layers, int mtp) {
    return JsonParser.parseString(String.format("""
        {"architectures":["Glm4MoeForCausalLM"],"hidden_size":16,"intermediate_size":32,"num_hidden_layers":%d,
         "num_attention_heads":2,"num_key_value_heads":1,"head_dim":8,"vocab_size":32,"n_routed_experts":2,
         "num_experts_per_tok":1,"moe_intermediate_size":8,"num_nextn_predict_layers":%d}""", layers, mtp))
        .getAsJsonObject();
  }

  private static List<String> minus(Map<String, long[]> all, Map<String, long[]> used) {
    List<String> out = new ArrayList<>(all.keySet());
    out.removeAll(used.keySet());
    return out;
  }

  @Test
  void layersPastNumHiddenLayersAreUnused() {
    Map<String, long[]> stored = CheckpointLayout.tensors(ModelConfig.fromJson(glm4(3)));
    ModelConfig one = ModelConfig.fromJson(glm4(1));
    List<String> expected = minus(stored, CheckpointLayout.tensors(one));
    assertEquals(expected, UnusedTensors.of(one, stored.keySet()));
    String w = UnusedTensors.warning(one, stored.keySet(), "/m").orElseThrow();
    assertEquals(String.format("checkpoint /m holds %d tensors that config.json leaves unused, not loaded: %s and %d "
        + "more; some lie past the last layer: is num_hidden_layers (1) right?", expected.size(),
        String.join(", ", expected.subList(0, 5)), expected.size() - 5), w);
    assertTrue(UnusedTensors.warning(ModelConfig.fromJson(glm4(3)), stored.keySet(), "/m").isEmpty());
  }

  @Test
  void whatTransformersIgnoresIsNotReported() {
    ModelConfig withMtp = ModelConfig.fromJson(moe(3, 1));
    Map<String, long[]> stored = new LinkedHashMap<>(CheckpointLayout.tensors(withMtp));
    stored.put("model.layers.0.self_attn.rotary_emb.inv_freq", new long[] {4});
    stored.put("model.rotary_emb.inv_freq", new long[] {4});
    assertEquals(List.of(), UnusedTensors.of(withMtp, stored.keySet()));
    // num_nextn_predict_layers 0: the MTP layer 3 is reported ...
    ModelConfig noMtp = ModelConfig.fromJson(moe(3, 0));
    assertEquals(minus(CheckpointLayout.tensors(withMtp), CheckpointLayout.tensors(noMtp)),
        UnusedTensors.of(noMtp, stored.keySet()));
    // ... but GLM-4.5-Air's layer 46 past a 46-layer model is dropped by transformers' _keys_to_ignore_on_load_unexpected
    ModelConfig air = ModelConfig.fromJson(moe(46, 0));
    List<String> airStored = new ArrayList<>(CheckpointLayout.tensors(ModelConfig.fromJson(moe(46, 1))).keySet());
    assertEquals(List.of(), UnusedTensors.of(air, airStored));
    ModelConfig glm4 = ModelConfig.fromJson(glm4(1));
    assertEquals(List.of("model.layers.46.input_layernorm.weight"), UnusedTensors.of(glm4,
        List.of("model.layers.46.input_layernorm.weight")));
  }

  @Test
  void aTiedLmHeadThatIsStoredCountsAsUsed() {
    JsonObject o = glm4(1);
    o.addProperty("tie_word_embeddings", true);
    ModelConfig tied = ModelConfig.fromJson(o);
    assertEquals(List.of("extra.weight"), UnusedTensors.of(tied, List.of("lm_head.weight", "extra.weight")));
    assertEquals("checkpoint /m holds 1 tensor that config.json leaves unused, not loaded: extra.weight",
        UnusedTensors.warning(tied, List.of("extra.weight"), "/m").orElseThrow());
  }

  /** num_hidden_layers: 1 on a 3-layer checkpoint loads, and says so at WARN through SLF4J. */
  @Test
  void loadingWarnsThroughSlf4j(@TempDir Path dir) throws IOException {
    Map<String, long[]> stored = CheckpointLayout.tensors(ModelConfig.fromJson(glm4(3)));
    F32Safetensors.writeRandom(dir.resolve("model.safetensors"), stored, 3);
    Files.writeString(dir.resolve("config.json"), glm4(1).toString());
    String expected = UnusedTensors.warning(ModelConfig.fromJson(glm4(1)), stored.keySet(), dir).orElseThrow();
    String log = stderrOf(() -> AutoGLM.builder().modelPath(dir).kvBlocks(8).build().close());
    // slf4j-simple (the test binding) writes "[thread] WARN logger - message" to System.err
    assertTrue(log.lines().anyMatch(l -> l.contains(" WARN ") && l.endsWith(expected)), log);
    assertTrue(expected.contains("model.layers.1.input_layernorm.weight"), expected);
  }

  private static String stderrOf(Runnable r) {
    PrintStream saved = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      r.run();
    } finally {
      System.setErr(saved);
    }
    String out = buf.toString(StandardCharsets.UTF_8);
    saved.print(out);
    return out;
  }
}

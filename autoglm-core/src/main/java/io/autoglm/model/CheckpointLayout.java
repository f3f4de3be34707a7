package io.autoglm.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensor names and shapes a checkpoint of a given config holds, in the transformers layout, including the
 * multi-token-prediction layers GLM-4.5 checkpoints store after the decoder layers (which loading skips).
 */
public final class CheckpointLayout {
  private CheckpointLayout() {}

  /** Name → shape, in the order transformers writes them, MTP layers last. */
  public static Map<String, long[]> tensors(ModelConfig c) {
    Map<String, long[]> t = new LinkedHashMap<>();
    long h = c.hiddenSize();
    t.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
    for (int i = 0; i < c.numLayers(); i++) {
      layer(t, c, i);
    }
    t.put("model.norm.weight", new long[] {h});
    if (!c.tieWordEmbeddings()) {
      t.put("lm_head.weight", new long[] {c.vocabSize(), h});
    }
    t.putAll(mtpTensors(c));
    return t;
  }

  /**
   * The multi-token-prediction layers {@code model.layers.{num_hidden_layers + j}.*}: a full decoder layer plus
   * {@code eh_proj} (hidden, 2·hidden), {@code enorm}, {@code hnorm} and {@code shared_head.norm}, as GLM-4.5 ships
   * them. Empty unless the config has {@code num_nextn_predict_layers > 0}.
   */
  public static Map<String, long[]> mtpTensors(ModelConfig c) {
    Map<String, long[]> t = new LinkedHashMap<>();
    int count = c.moe().map(MoeConfig::numNextnPredictLayers).orElse(0);
    long h = c.hiddenSize();
    for (int j = 0; j < count; j++) {
      int i = c.numLayers() + j;
      String p = "model.layers." + i + ".";
      t.put(p + "eh_proj.weight", new long[] {h, 2 * h});
      t.put(p + "enorm.weight", new long[] {h});
      t.put(p + "hnorm.weight", new long[] {h});
      layer(t, c, i);
      t.put(p + "shared_head.norm.weight", new long[] {h});
    }
    return t;
  }

  private static void layer(Map<String, long[]> t, ModelConfig c, int i) {
    String p = "model.layers." + i + ".";
    long h = c.hiddenSize();
    t.put(p + "input_layernorm.weight", new long[] {h});
    t.put(p + "self_attn.q_proj.weight", new long[] {c.qSize(), h});
    t.put(p + "self_attn.k_proj.weight", new long[] {c.kvSize(), h});
    t.put(p + "self_attn.v_proj.weight", new long[] {c.kvSize(), h});
    if (c.attentionBias()) {
      t.put(p + "self_attn.q_proj.bias", new long[] {c.qSize()});
      t.put(p + "self_attn.k_proj.bias", new long[] {c.kvSize()});
      t.put(p + "self_attn.v_proj.bias", new long[] {c.kvSize()});
    }
    if (c.useQkNorm()) {
      t.put(p + "self_attn.q_norm.weight", new long[] {c.headDim()});
      t.put(p + "self_attn.k_norm.weight", new long[] {c.headDim()});
    }
    t.put(p + "self_attn.o_proj.weight", new long[] {h, c.qSize()});
    if (c.architecture().sandwichNorms()) {
      t.put(p + "post_self_attn_layernorm.weight", new long[] {h});
    }
    t.put(p + "post_attention_layernorm.weight", new long[] {h});
    if (c.moe().isPresent() && c.moe().get().isMoeLayer(i)) {
      experts(t, c, c.moe().get(), p + "mlp.");
    } else {
      mlp(t, c, p + "mlp.", c.intermediateSize());
    }
    if (c.architecture().sandwichNorms()) {
      t.put(p + "post_mlp_layernorm.weight", new long[] {h});
    }
  }

  private static void mlp(Map<String, long[]> t, ModelConfig c, String p, long intermediate) {
    long h = c.hiddenSize();
    if (c.architecture().fusedGateUp()) {
      t.put(p + "gate_up_proj.weight", new long[] {2 * intermediate, h});
    } else {
      t.put(p + "gate_proj.weight", new long[] {intermediate, h});
      t.put(p + "up_proj.weight", new long[] {intermediate, h});
    }
    t.put(p + "down_proj.weight", new long[] {h, intermediate});
  }

  private static void experts(Map<String, long[]> t, ModelConfig c, MoeConfig m, String p) {
    long h = c.hiddenSize();
    long i = m.moeIntermediateSize();
    t.put(p + "gate.weight", new long[] {m.numRoutedExperts(), h});
    t.put(p + "gate.e_score_correction_bias", new long[] {m.numRoutedExperts()});
    for (int e = 0; e < m.numRoutedExperts(); e++) {
      String x = p + "experts." + e + ".";
      t.put(x + "gate_proj.weight", new long[] {i, h});
      t.put(x + "up_proj.weight", new long[] {i, h});
      t.put(x + "down_proj.weight", new long[] {h, i});
    }
    if (m.numSharedExperts() > 0) {
      mlp(t, c, p + "shared_experts.", m.sharedIntermediateSize());
    }
  }

  /**
   * The decoder layers' linear weights, which FP8 checkpoints store quantized and {@code LayerWeights} hands to
   * {@link io.autoglm.backend.ComputeBackend#linearWeight} (or, for routed experts, {@code moeWeights}): q/k/v/o_proj,
   * gate_up_proj or gate_proj and up_proj, down_proj, of dense MLPs, routed experts and shared experts. Not the
   * embeddings, norms, biases, the router ({@code mlp.gate}), lm_head or the multi-token-prediction layers.
   */
  public static java.util.Set<String> linearWeights(ModelConfig c) {
    java.util.Set<String> out = new java.util.LinkedHashSet<>();
    Map<String, long[]> mtp = mtpTensors(c);
    for (String name : tensors(c).keySet()) {
      if (!mtp.containsKey(name) && name.startsWith("model.layers.") && LINEAR.matcher(name).matches()) {
        out.add(name);
      }
    }
    return out;
  }

  private static final java.util.regex.Pattern LINEAR = java.util.regex.Pattern.compile(
      "model\\.layers\\.\\d+\\.(self_attn\\.[qkvo]_proj|mlp\\.(shared_experts\\.|experts\\.\\d+\\.)?"
          + "(gate_up|gate|up|down)_proj)\\.weight");

  /**
   * Weight elements one decode token reads: every decoder tensor except the embedding table (one row of it is
   * read), counting only {@code num_experts_per_tok} of the routed experts and none of the MTP layers.
   */
  public static long decodeReadElements(ModelConfig c) {
    Map<String, long[]> mtp = mtpTensors(c);
    long total = 0;
    for (Map.Entry<String, long[]> e : tensors(c).entrySet()) {
      if (mtp.containsKey(e.getKey())) {
        continue;
      }
      long n = 1;
      for (long d : e.getValue()) {
        n *= d;
      }
      if (e.getKey().equals("model.embed_tokens.weight")) {
        n = c.hiddenSize();
      } else if (e.getKey().contains(".mlp.experts.")) {
        MoeConfig m = c.moe().orElseThrow();
        n = n * m.numExpertsPerToken() / m.numRoutedExperts();
      }
      total += n;
    }
    return total;
  }
}

package io.autoglm.model;

import java.util.LinkedHashMap;
import java.util.Map;

/** The tensor names and shapes a checkpoint of a given config holds, in the transformers layout. */
public final class CheckpointLayout {
  private CheckpointLayout() {}

  /** Name → shape, in the order transformers writes them. */
  public static Map<String, long[]> tensors(ModelConfig c) {
    Map<String, long[]> t = new LinkedHashMap<>();
    long h = c.hiddenSize();
    t.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
    for (int i = 0; i < c.numLayers(); i++) {
      String p = "model.layers." + i + ".";
      t.put(p + "input_layernorm.weight", new long[] {h});
      t.put(p + "self_attn.q_proj.weight", new long[] {c.qSize(), h});
      t.put(p + "self_attn.k_proj.weight", new long[] {c.kvSize(), h});
      t.put(p + "self_attn.v_proj.weight", new long[] {c.kvSize(), h});
      if (c.attentionBias()) {
        t.put(p + "self_attn.q_proj.bias", new long[] {c.qSize()});
        t.put(p + "self_attn.k_proj.bias", new long[] {c.kvSize()});
        t.put(p + "self_attn.v_proj.bias", new long[] {c.kvSize()});
      }
      t.put(p + "self_attn.o_proj.weight", new long[] {h, c.qSize()});
      if (c.architecture().sandwichNorms()) {
        t.put(p + "post_self_attn_layernorm.weight", new long[] {h});
      }
      t.put(p + "post_attention_layernorm.weight", new long[] {h});
      t.put(p + "mlp.gate_up_proj.weight", new long[] {2L * c.intermediateSize(), h});
      t.put(p + "mlp.down_proj.weight", new long[] {h, c.intermediateSize()});
      if (c.architecture().sandwichNorms()) {
        t.put(p + "post_mlp_layernorm.weight", new long[] {h});
      }
    }
    t.put("model.norm.weight", new long[] {h});
    if (!c.tieWordEmbeddings()) {
      t.put("lm_head.weight", new long[] {c.vocabSize(), h});
    }
    return t;
  }

  /** Weight elements one decode token reads: every tensor except the embedding table (one row of it is read). */
  public static long decodeReadElements(ModelConfig c) {
    long total = 0;
    for (Map.Entry<String, long[]> e : tensors(c).entrySet()) {
      long n = 1;
      for (long d : e.getValue()) {
        n *= d;
      }
      total += e.getKey().equals("model.embed_tokens.weight") ? c.hiddenSize() : n;
    }
    return total;
  }
}

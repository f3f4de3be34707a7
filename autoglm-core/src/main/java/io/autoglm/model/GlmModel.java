package io.autoglm.model;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The GLM / GLM4 decoder, written once against {@link ForwardStep}: embedding, then per layer pre-norm attention
 * (q/k/v bias, partial interleaved RoPE, GQA over the paged KV cache) and a SiLU MLP with the fused
 * {@code gate_up_proj} ([gate | up]), GLM4's extra post-norms, the final norm and the LM head.
 */
public final class GlmModel {
  private final ModelConfig config;
  private final RopeSpec rope;
  private final float eps;
  private final float attentionScale;
  private final Tensor embed; // (vocab, hidden)
  private final Tensor finalNorm; // (hidden)
  private final Tensor lmHead; // (vocab, hidden)
  private final List<Layer> layers;

  /** One decoder block's weights. Optional ones are GLM4's post-norms and the attention biases. */
  private record Layer(
      Tensor inputNorm, // (hidden)
      Tensor qWeight, // (heads·headDim, hidden)
      Optional<Tensor> qBias, // (heads·headDim)
      Tensor kWeight, // (kvHeads·headDim, hidden)
      Optional<Tensor> kBias, // (kvHeads·headDim)
      Tensor vWeight, // (kvHeads·headDim, hidden)
      Optional<Tensor> vBias, // (kvHeads·headDim)
      Tensor oWeight, // (hidden, heads·headDim)
      Optional<Tensor> postSelfAttnNorm, // (hidden), GLM4
      Tensor postAttnNorm, // (hidden)
      Tensor gateUp, // (2·intermediate, hidden): rows [gate | up]
      Tensor down, // (hidden, intermediate)
      Optional<Tensor> postMlpNorm) {} // (hidden), GLM4

  private GlmModel(ModelConfig config, Tensor embed, Tensor finalNorm, Tensor lmHead, List<Layer> layers) {
    this.config = config;
    this.rope = new RopeSpec(config.headDim(), config.rotaryDim(), config.ropeTheta(), true);
    this.eps = (float) config.rmsNormEps();
    this.attentionScale = (float) (1.0 / Math.sqrt(config.headDim()));
    this.embed = embed;
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.layers = layers;
  }

  /** Loads every weight onto the backend, checking each tensor's shape against the config. */
  public static GlmModel load(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, LoadProgress progress) {
    long h = c.hiddenSize();
    Tensor embed = backend.weight(ckpt.tensor("model.embed_tokens.weight", c.vocabSize(), h));
    List<Layer> layers = new ArrayList<>();
    for (int i = 0; i < c.numLayers(); i++) {
      String p = "model.layers." + i + ".";
      boolean sandwich = c.architecture().sandwichNorms();
      layers.add(new Layer(
          backend.weight(ckpt.tensor(p + "input_layernorm.weight", h)),
          backend.weight(ckpt.tensor(p + "self_attn.q_proj.weight", c.qSize(), h)),
          bias(c, ckpt, backend, p + "self_attn.q_proj.bias", c.qSize()),
          backend.weight(ckpt.tensor(p + "self_attn.k_proj.weight", c.kvSize(), h)),
          bias(c, ckpt, backend, p + "self_attn.k_proj.bias", c.kvSize()),
          backend.weight(ckpt.tensor(p + "self_attn.v_proj.weight", c.kvSize(), h)),
          bias(c, ckpt, backend, p + "self_attn.v_proj.bias", c.kvSize()),
          backend.weight(ckpt.tensor(p + "self_attn.o_proj.weight", h, c.qSize())),
          sandwich ? Optional.of(backend.weight(ckpt.tensor(p + "post_self_attn_layernorm.weight", h))) : Optional.empty(),
          backend.weight(ckpt.tensor(p + "post_attention_layernorm.weight", h)),
          backend.weight(ckpt.tensor(p + "mlp.gate_up_proj.weight", 2L * c.intermediateSize(), h)),
          backend.weight(ckpt.tensor(p + "mlp.down_proj.weight", h, c.intermediateSize())),
          sandwich ? Optional.of(backend.weight(ckpt.tensor(p + "post_mlp_layernorm.weight", h))) : Optional.empty()));
      progress.layerLoaded(i + 1, c.numLayers());
    }
    Tensor norm = backend.weight(ckpt.tensor("model.norm.weight", h));
    Tensor head = c.tieWordEmbeddings() && !ckpt.contains("lm_head.weight")
        ? embed
        : backend.weight(ckpt.tensor("lm_head.weight", c.vocabSize(), h));
    return new GlmModel(c, embed, norm, head, List.copyOf(layers));
  }

  private static Optional<Tensor> bias(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, String name, long n) {
    return c.attentionBias() ? Optional.of(backend.weight(ckpt.tensor(name, n))) : Optional.empty();
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * Runs the step's tokens through the decoder, writing their K and V into the cache, and returns the logits of
   * the rows {@code logitRows}: (logitRows.length, vocab).
   */
  public Tensor forward(ForwardStep s, int[] logitRows) {
    Tensor h = s.embedding(embed);
    Tensor x = s.rmsNorm(h, layers.get(0).inputNorm(), eps);
    for (int l = 0; l < layers.size(); l++) {
      Layer w = layers.get(l);
      Tensor q = s.rope(linear(s, x, w.qWeight(), w.qBias()), config.numHeads(), rope);
      Tensor k = linear(s, x, w.kWeight(), w.kBias());
      Tensor v = linear(s, x, w.vWeight(), w.vBias());
      s.ropeWriteKv(l, k, v, config.numKvHeads(), rope);
      Tensor attn = s.linear(s.attention(l, q, config.numHeads(), attentionScale), w.oWeight());
      if (w.postSelfAttnNorm().isPresent()) {
        attn = s.rmsNorm(attn, w.postSelfAttnNorm().get(), eps);
      }
      ForwardStep.ResidualNorm r = s.addRmsNorm(h, attn, w.postAttnNorm(), eps);
      h = r.sum();
      Tensor mlp = s.linear(s.siluMul(s.linear(r.normed(), w.gateUp())), w.down());
      if (w.postMlpNorm().isPresent()) {
        mlp = s.rmsNorm(mlp, w.postMlpNorm().get(), eps);
      }
      if (l + 1 < layers.size()) {
        r = s.addRmsNorm(h, mlp, layers.get(l + 1).inputNorm(), eps); // this residual + the next layer's input norm
        h = r.sum();
        x = r.normed();
      } else {
        h = s.add(h, mlp);
      }
    }
    return s.linear(s.rmsNorm(s.rows(h, logitRows), finalNorm, eps), lmHead);
  }

  private static Tensor linear(ForwardStep s, Tensor x, Tensor w, Optional<Tensor> bias) {
    return bias.isPresent() ? s.linear(x, w, bias.get()) : s.linear(x, w);
  }
}

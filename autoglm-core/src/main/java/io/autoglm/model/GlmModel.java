package io.autoglm.model;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The GLM / GLM4 / GLM4-MoE decoder, written once against {@link ForwardStep}: embedding, then per layer pre-norm
 * attention (q/k/v bias, optional per-head q/k norms, partial RoPE — interleaved pairs for GLM/GLM4, half-split for
 * GLM4-MoE — and GQA over the paged KV cache) and a SiLU MLP: dense with [gate | up] fused, or routed experts plus
 * shared experts; GLM4's extra post-norms; the final norm and the LM head.
 */
public final class GlmModel {
  private final ModelConfig config;
  private final RopeSpec rope;
  private final float eps;
  private final float attentionScale;
  private final Optional<MoeRouter> router;
  private final Tensor embed; // (vocab, hidden)
  private final Tensor finalNorm; // (hidden)
  private final Tensor lmHead; // (vocab, hidden)
  private final List<LayerWeights> layers;

  private GlmModel(ModelConfig config, Tensor embed, Tensor finalNorm, Tensor lmHead, List<LayerWeights> layers) {
    this.config = config;
    this.rope = new RopeSpec(config.headDim(), config.rotaryDim(), config.ropeTheta(),
        config.architecture().ropeInterleaved());
    this.eps = (float) config.rmsNormEps();
    this.attentionScale = (float) (1.0 / Math.sqrt(config.headDim()));
    this.router = config.moe().map(MoeConfig::router);
    this.embed = embed;
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.layers = layers;
  }

  /**
   * Loads every weight onto the backend, checking each tensor's shape against the config. Tensors are mapped one by
   * one as their layer loads; a multi-token-prediction layer after the last decoder layer is left unread.
   */
  public static GlmModel load(ModelConfig c, Checkpoint ckpt, ComputeBackend backend, LoadProgress progress) {
    long h = c.hiddenSize();
    Tensor embed = backend.weight(ckpt.tensor("model.embed_tokens.weight", c.vocabSize(), h));
    List<LayerWeights> layers = new ArrayList<>();
    for (int i = 0; i < c.numLayers(); i++) {
      layers.add(LayerWeights.load(c, ckpt, backend, i));
      progress.layerLoaded(i + 1, c.numLayers());
    }
    Tensor norm = backend.weight(ckpt.tensor("model.norm.weight", h));
    Tensor head = c.tieWordEmbeddings() && !ckpt.contains("lm_head.weight")
        ? embed
        : backend.weight(ckpt.tensor("lm_head.weight", c.vocabSize(), h));
    return new GlmModel(c, embed, norm, head, List.copyOf(layers));
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
      LayerWeights w = layers.get(l);
      Tensor attn = attention(s, l, w, x);
      if (w.postSelfAttnNorm().isPresent()) {
        attn = s.rmsNorm(attn, w.postSelfAttnNorm().get(), eps);
      }
      ForwardStep.ResidualNorm r = s.addRmsNorm(h, attn, w.postAttnNorm(), eps);
      h = r.sum();
      Tensor mlp = feedForward(s, w.feedForward(), r.normed());
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

  private Tensor attention(ForwardStep s, int layer, LayerWeights w, Tensor x) {
    Tensor q = linear(s, x, w.qWeight(), w.qBias());
    Tensor k = linear(s, x, w.kWeight(), w.kBias());
    if (w.qNorm().isPresent()) {
      q = s.headRmsNorm(q, config.numHeads(), w.qNorm().get(), eps);
    }
    if (w.kNorm().isPresent()) {
      k = s.headRmsNorm(k, config.numKvHeads(), w.kNorm().get(), eps);
    }
    q = s.rope(q, config.numHeads(), rope);
    s.ropeWriteKv(layer, k, linear(s, x, w.vWeight(), w.vBias()), config.numKvHeads(), rope);
    return s.linear(s.attention(layer, q, config.numHeads(), attentionScale), w.oWeight());
  }

  private Tensor feedForward(ForwardStep s, LayerWeights.FeedForward ffn, Tensor x) {
    if (ffn instanceof LayerWeights.Dense d) {
      return dense(s, d, x);
    }
    LayerWeights.Experts e = (LayerWeights.Experts) ffn;
    ExpertRouting routing = s.route(x, e.routed(), router.orElseThrow());
    Tensor routed = s.moe(x, e.routed(), routing);
    return e.shared().isPresent() ? s.add(routed, dense(s, e.shared().get(), x)) : routed;
  }

  private static Tensor dense(ForwardStep s, LayerWeights.Dense d, Tensor x) {
    return s.linear(s.siluMul(s.linear(x, d.gateUp())), d.down());
  }

  private static Tensor linear(ForwardStep s, Tensor x, Tensor w, Optional<Tensor> bias) {
    return bias.isPresent() ? s.linear(x, w, bias.get()) : s.linear(x, w);
  }
}

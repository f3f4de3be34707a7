package io.autoglm.model;

import io.autoglm.backend.Communicator;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.TensorSlice;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The GLM / GLM4 / GLM4-MoE decoder, written once against {@link ForwardStep}: embedding, then per layer pre-norm
 * attention (q/k/v bias, optional per-head q/k norms, partial RoPE — interleaved pairs for GLM/GLM4, half-split for
 * GLM4-MoE — and GQA over the paged KV cache) and a SiLU MLP: dense with [gate | up] fused, or routed experts plus
 * shared experts; GLM4's extra post-norms; the final norm and the LM head.
 *
 * <p>One instance runs one {@link Partition} of the model: the whole of it, or a pipeline stage's layers and a
 * tensor-parallel rank's heads. A rank's attention and MLP outputs are partial sums that the step's
 * {@link Communicator} adds up across the ranks (after o_proj and after down_proj / the experts); its embedding and lm_head hold a
 * part of the vocabulary, completed by an all-reduce and an all-gather.
 */
public final class GlmModel {
  private final ModelConfig config;
  private final Partition partition;
  private final RopeSpec rope;
  private final float eps;
  private final float attentionScale;
  private final Optional<MoeRouter> router;
  private final Optional<Tensor> embed; // (vocabEnd - vocabStart, hidden), first stage only
  private final Optional<Tensor> finalNorm; // (hidden), last stage only
  private final Optional<Tensor> lmHead; // (vocabEnd - vocabStart, hidden), last stage only
  private final List<LayerWeights> layers; // layers [firstLayer, endLayer)

  private GlmModel(ModelConfig config, Partition partition, Optional<Tensor> embed,
      Optional<Tensor> finalNorm, Optional<Tensor> lmHead, List<LayerWeights> layers) {
    this.config = config;
    this.partition = partition;
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
    return load(c, Partition.whole(c), WeightSource.whole(ckpt), backend, progress);
  }

  /** Loads one partition's weights from {@code source} (which slices them for a tensor-parallel rank). */
  public static GlmModel load(ModelConfig c, Partition part, WeightSource source, ComputeBackend backend,
      LoadProgress progress) {
    long h = c.hiddenSize();
    Optional<Tensor> embed = part.embeds()
        ? Optional.of(weight(backend, unquantized(source.load("model.embed_tokens.weight", c.vocabSize(), h))))
        : Optional.empty();
    List<LayerWeights> layers = new ArrayList<>();
    for (int i = part.firstLayer(); i < part.endLayer(); i++) {
      layers.add(LayerWeights.load(c, source, backend, i));
      progress.layerLoaded(layers.size(), part.numLocalLayers());
    }
    Optional<Tensor> norm = Optional.empty();
    Optional<Tensor> head = Optional.empty();
    if (part.hasHead()) {
      norm = Optional.of(weight(backend, unquantized(source.load("model.norm.weight", h))));
      boolean tied = c.tieWordEmbeddings() && !source.contains("lm_head.weight");
      head = Optional.of(tied && embed.isPresent() ? embed.get()
          : weight(backend, unquantized(source.load(tied ? "model.embed_tokens.weight" : "lm_head.weight",
              c.vocabSize(), h))));
    }
    return new GlmModel(c, part, embed, norm, head, List.copyOf(layers));
  }

  /**
   * {@code parts}, checked to be unquantized: published FP8 checkpoints quantize only the decoder's linear layers,
   * never an embedding, a norm, a bias, the router or lm_head, which the model reads as plain fp32/bf16 tensors.
   */
  static List<TensorSlice> unquantized(List<TensorSlice> parts) {
    for (TensorSlice t : parts) {
      if (t.dtype().isFp8()) {
        throw new io.autoglm.ModelLoadException(String.format("tensor %s in %s has dtype F8_E4M3; expected F32, F16 "
            + "or BF16: only the decoder's linear layers (q/k/v/o_proj, gate/up/down_proj, experts) may be FP8",
            t.name(), t.file()));
      }
    }
    return parts;
  }

  /** One slice as is; several concatenated along dim 0. */
  static Tensor weight(ComputeBackend backend, List<TensorSlice> parts) {
    return parts.size() == 1 ? backend.weight(parts.get(0)) : backend.fusedWeight(parts);
  }

  public ModelConfig config() {
    return config;
  }

  public Partition partition() {
    return partition;
  }

  /**
   * Runs the step's tokens through the decoder, writing their K and V into the cache, and returns the logits of
   * the rows {@code logitRows}: (logitRows.length, vocab).
   */
  public Tensor forward(ForwardStep s, int[] logitRows) {
    return forward(s, Optional.empty(), logitRows, Communicator.single());
  }

  /**
   * Runs this partition's layers. The first stage embeds the step's tokens, later ones take the previous stage's
   * {@code hidden} (T, hidden). Returns the logits of {@code logitRows} (logitRows.length, vocab) on the last
   * stage, else the hidden states (T, hidden) for the next one. {@code comm} joins this rank to the other ranks of
   * its stage, each running this same call on its own thread.
   */
  public Tensor forward(ForwardStep s, Optional<Tensor> hidden, int[] logitRows, Communicator comm) {
    if (hidden.isPresent() == partition.embeds()) {
      throw new IllegalArgumentException("layers from " + partition.firstLayer() + (partition.embeds()
          ? " start the model and take no hidden states" : " need the previous stage's hidden states"));
    }
    Tensor h = hidden.orElseGet(() -> embed(s, comm));
    Tensor pending = null; // the previous layer's MLP output, which the next residual norm adds to h
    for (int l = 0; l < layers.size(); l++) {
      LayerWeights w = layers.get(l);
      Tensor q;
      if (pending != null && w.qNorm().isEmpty() && w.kNorm().isEmpty()) { // residual + norm + QKV + RoPE in one op
        ForwardStep.ResidualProjection r = s.addRmsNormQkvRope(l, h, pending, w.inputNorm(), eps, w.qkvWeight(),
            w.qkvBias().orElse(null), partition.numHeads(), partition.numKvHeads(), rope);
        h = r.sum();
        q = r.out();
      } else {
        Tensor x;
        if (pending == null) {
          x = s.rmsNorm(h, w.inputNorm(), eps);
        } else {
          ForwardStep.ResidualNorm r = s.addRmsNorm(h, pending, w.inputNorm(), eps);
          h = r.sum();
          x = r.normed();
        }
        q = queries(s, l, w, x);
      }
      Tensor attn = comm.allReduceSum(s, s.linear(s.attention(l, q, partition.numHeads(), attentionScale),
          w.oWeight()));
      if (w.postSelfAttnNorm().isPresent()) {
        attn = s.rmsNorm(attn, w.postSelfAttnNorm().get(), eps);
      }
      Tensor mlp;
      if (w.feedForward() instanceof LayerWeights.Dense d) { // residual + norm + gate_up + SiLU·mul in one op
        ForwardStep.ResidualProjection r = s.addRmsNormLinearSiluMul(h, attn, w.postAttnNorm(), eps, d.gateUp());
        h = r.sum();
        mlp = s.linear(r.out(), d.down());
      } else {
        ForwardStep.ResidualNorm r = s.addRmsNorm(h, attn, w.postAttnNorm(), eps);
        h = r.sum();
        mlp = feedForward(s, w.feedForward(), r.normed());
      }
      mlp = comm.allReduceSum(s, mlp);
      if (w.postMlpNorm().isPresent()) {
        mlp = s.rmsNorm(mlp, w.postMlpNorm().get(), eps);
      }
      pending = mlp;
    }
    if (pending != null) {
      h = s.add(h, pending);
    }
    if (!partition.hasHead()) {
      return h;
    }
    Tensor logits = s.linear(s.rmsNorm(s.rows(h, logitRows), finalNorm.orElseThrow(), eps), lmHead.orElseThrow());
    return partition.vocabSplit(config) ? comm.allGatherColumns(s, logits) : logits;
  }

  private Tensor embed(ForwardStep s, Communicator comm) {
    return partition.vocabSplit(config)
        ? comm.allReduceSum(s, s.embedding(embed.orElseThrow(), partition.vocabStart()))
        : s.embedding(embed.orElseThrow());
  }

  /**
   * The rotated queries of layer {@code l} (its KV cache layer) from its normed input x; k and v go into the cache.
   */
  private Tensor queries(ForwardStep s, int l, LayerWeights w, Tensor x) {
    int heads = partition.numHeads();
    int kvHeads = partition.numKvHeads();
    int headDim = config.headDim();
    Tensor qkv = linear(s, x, w.qkvWeight(), w.qkvBias());
    Tensor q = s.columns(qkv, 0, heads * headDim);
    Tensor k = s.columns(qkv, heads * headDim, kvHeads * headDim);
    Tensor v = s.columns(qkv, (heads + kvHeads) * headDim, kvHeads * headDim);
    if (w.qNorm().isPresent()) {
      q = s.headRmsNorm(q, heads, w.qNorm().get(), eps);
    }
    if (w.kNorm().isPresent()) {
      k = s.headRmsNorm(k, kvHeads, w.kNorm().get(), eps);
    }
    return s.ropeQWriteKv(l, q, heads, k, v, kvHeads, rope);
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
    return s.linear(s.linearSiluMul(x, d.gateUp()), d.down());
  }

  private static Tensor linear(ForwardStep s, Tensor x, Tensor w, Optional<Tensor> bias) {
    return bias.isPresent() ? s.linear(x, w, bias.get()) : s.linear(x, w);
  }
}

package io.autoglm.backend;

/**
 * The ops of one forward step. Shapes use T for the step's token count; a "row" is one token. All activations are
 * 2-D {@code [T, features]}; heads are the contiguous {@code headDim}-sized groups of a row.
 */
public interface ForwardStep extends AutoCloseable {
  /** {@code table[tokenIds]}: (T, hidden). */
  Tensor embedding(Tensor table);

  /**
   * The vocab-split embedding of tensor parallelism: {@code table} holds vocabulary rows
   * [firstRow, firstRow + rows); tokens in that range get their row, all others a zero row, so that the sum over
   * the ranks is the full embedding. (T, hidden).
   */
  default Tensor embedding(Tensor table, int firstRow) {
    throw unsupported("embedding(table, firstRow) (vocab-split embedding, tensor parallelism)");
  }

  /**
   * Copies a row-major (rows, cols) fp32 host array onto the backend: the inverse of {@link #toHost}. Collectives
   * and pipeline stages without a device path go through it.
   */
  default Tensor fromHost(float[] rowMajor, int rows, int cols) {
    throw unsupported("fromHost (in-process tensor and pipeline parallelism)");
  }

  /**
   * Issues whatever device work of this step is still held back (a backend that records a step to replay it, as
   * CUDA graphs do, launches it here) without reading anything back. Tensor-parallel ranks other than 0 call it at
   * the end of their step, since they never sample or copy to the host. By default nothing is held back.
   */
  default void complete() {}

  /** RMSNorm over the last dim: {@code x / sqrt(mean(x²) + eps) * weight}, in fp32. */
  Tensor rmsNorm(Tensor x, Tensor weight, float eps);

  Tensor add(Tensor a, Tensor b);

  /** {@code x · wᵀ}: x (T, in), w (out, in) → (T, out). */
  Tensor linear(Tensor x, Tensor w);

  /** {@code x · wᵀ + bias}. */
  Tensor linear(Tensor x, Tensor w, Tensor bias);

  /** Fused MLP activation: {@code silu(gate) * up} where gateUp = [gate | up] along the last dim. (T, 2I) → (T, I). */
  Tensor siluMul(Tensor gateUp);

  /**
   * The MLP's first half: {@code siluMul(linear(x, gateUp))}. GPU backends compute SiLU·mul in the GEMV's epilogue,
   * so the (T, 2I) intermediate is never written.
   */
  default Tensor linearSiluMul(Tensor x, Tensor gateUp) {
    return siluMul(linear(x, gateUp));
  }

  /**
   * Columns [from, from + width) of a (T, n) activation, (T, width): a view where the backend can (a GPU activation
   * keeps its row stride), so that q, k and v are read from the one fused QKV projection without a copy.
   */
  Tensor columns(Tensor x, int from, int width);

  /** The residual sum {@code a + b} and its RMSNorm, as {@link #addRmsNorm} returns them. */
  record ResidualNorm(Tensor sum, Tensor normed) {}

  /**
   * Fused residual add + RMSNorm: {@code sum = a + b}, {@code normed = rmsNorm(sum, weight, eps)}. GPU backends
   * fuse it into one pass over the rows.
   */
  default ResidualNorm addRmsNorm(Tensor a, Tensor b, Tensor weight, float eps) {
    Tensor sum = add(a, b);
    return new ResidualNorm(sum, rmsNorm(sum, weight, eps));
  }

  /** The residual sum {@code a + b} and a projection of its RMSNorm, as the fused residual-norm ops return them. */
  record ResidualProjection(Tensor sum, Tensor out) {}

  /**
   * The MLP's input side: {@link #addRmsNorm}, then {@link #linearSiluMul} of the normed rows. Returns the sum and
   * the activation (T, gateUp rows / 2). GPU backends compute the norm in the GEMV's prologue, so the normed rows are
   * never written.
   */
  default ResidualProjection addRmsNormLinearSiluMul(Tensor a, Tensor b, Tensor normWeight, float eps,
      Tensor gateUp) {
    ResidualNorm r = addRmsNorm(a, b, normWeight, eps);
    return new ResidualProjection(r.sum(), linearSiluMul(r.normed(), gateUp));
  }

  /**
   * The attention's input side: {@link #addRmsNorm}, the fused QKV projection of the normed rows ({@code qkv} holds
   * the q, k and v rows in that order; {@code bias} may be null), then {@link #ropeQWriteKv} of its q, k and v
   * columns. Returns the sum and the rotated q (T, numHeads × headDim). GPU backends do it in one kernel.
   */
  default ResidualProjection addRmsNormQkvRope(int layer, Tensor a, Tensor b, Tensor normWeight, float eps,
      Tensor qkv, Tensor bias, int numHeads, int numKvHeads, RopeSpec spec) {
    ResidualNorm r = addRmsNorm(a, b, normWeight, eps);
    Tensor p = bias == null ? linear(r.normed(), qkv) : linear(r.normed(), qkv, bias);
    int qWidth = numHeads * spec.headDim();
    int kvWidth = numKvHeads * spec.headDim();
    Tensor q = columns(p, 0, qWidth);
    Tensor k = columns(p, qWidth, kvWidth);
    Tensor v = columns(p, qWidth + kvWidth, kvWidth);
    return new ResidualProjection(r.sum(), ropeQWriteKv(layer, q, numHeads, k, v, numKvHeads, spec));
  }

  /**
   * Rotates K by the step's positions and writes K and V into their slots of {@code layer}: {@code rope} then
   * {@link #writeKv}. GPU backends fuse the rotation into the cache write.
   */
  default void ropeWriteKv(int layer, Tensor k, Tensor v, int numKvHeads, RopeSpec spec) {
    writeKv(layer, rope(k, numKvHeads, spec), v);
  }

  /**
   * {@code rope(q)}, then {@link #ropeWriteKv} of k and v: returns the rotated q. GPU backends do all three in one
   * kernel.
   */
  default Tensor ropeQWriteKv(int layer, Tensor q, int numHeads, Tensor k, Tensor v, int numKvHeads, RopeSpec spec) {
    Tensor rotated = rope(q, numHeads, spec);
    ropeWriteKv(layer, k, v, numKvHeads, spec);
    return rotated;
  }

  /** Rotates the first rotaryDim channels of each of {@code numHeads} heads by the step's positions. */
  Tensor rope(Tensor x, int numHeads, RopeSpec spec);

  /** Writes the step's K and V rows (T, kvHeads × headDim) into their slots of {@code layer}, in place. */
  void writeKv(int layer, Tensor k, Tensor v);

  /**
   * Causal attention of each sequence's queries over its cached context (GQA: query head h reads KV head
   * h / (numHeads / kvHeads)). q (T, numHeads × headDim) → (T, numHeads × headDim).
   */
  Tensor attention(int layer, Tensor q, int numHeads, float scale);

  /**
   * RMSNorm of each head on its own (GLM4-MoE's q/k norms): x (T, numHeads × headDim), weight (headDim) → same
   * shape, in fp32.
   */
  default Tensor headRmsNorm(Tensor x, int numHeads, Tensor weight, float eps) {
    throw unsupported("headRmsNorm (GLM4-MoE q/k norms)");
  }

  /**
   * Chooses each token's experts: router logits {@code x · routerᵀ} computed in fp32 whatever the compute dtype,
   * then exactly {@link MoeRouter#route}'s selection and weights. x (T, hidden) → routing for T tokens × topK.
   */
  default ExpertRouting route(Tensor x, MoeWeights weights, MoeRouter router) {
    throw unsupported("route (mixture of experts, Glm4MoeForCausalLM)");
  }

  /**
   * The routed experts' mixture: {@code out[t] = Σ_j w[t,j] · down_e(silu(gate_e·x[t]) * up_e·x[t])} with
   * {@code e = experts[t,j]}, summed over j in the routing's order ({@link MoeRouter.Choice}: torch.topk's, the order
   * transformers' grouped_mm experts sum in). x (T, hidden) → (T, hidden). Meant for grouped
   * GEMMs over the (token, expert) pairs sorted by expert, followed by a weighted scatter-add back to the tokens.
   */
  default Tensor moe(Tensor x, MoeWeights weights, ExpertRouting routing) {
    throw unsupported("moe (mixture of experts, Glm4MoeForCausalLM)");
  }

  private UnsupportedOperationException unsupported(String op) {
    return new UnsupportedOperationException(getClass().getSimpleName() + " does not implement " + op);
  }

  /** Rows {@code rows} of x. */
  Tensor rows(Tensor x, int[] rows);

  /** Copies a 2-D tensor to the host, row-major. */
  float[][] toHost(Tensor x);

  /**
   * Picks the next token of each logits row (rows, vocab). The CPU backend copies the logits to the host and
   * samples there ({@code io.autoglm.sample.Sampler}); GPU backends sample on the device.
   */
  int[] sample(Tensor logits, java.util.List<SamplingRow> rows);

  /**
   * {@link #sample}, with each row's logprobs when it asks for them ({@link SamplingRow#wantsLogprobs}). The
   * default copies the logits to the host when a row asks, else it is {@link #sample}; GPU backends compute them on
   * the device.
   */
  default Sampled sampleWithLogprobs(Tensor logits, java.util.List<SamplingRow> rows) {
    if (rows.stream().noneMatch(SamplingRow::wantsLogprobs)) {
      return Sampled.of(sample(logits, rows));
    }
    float[][] host = toHost(logits);
    if (host.length != rows.size()) {
      throw new IllegalArgumentException("logits have " + host.length + " rows, sampling rows " + rows.size());
    }
    int[] tokens = new int[host.length];
    io.autoglm.GenerationResult.TokenLogprobs[] logprobs = new io.autoglm.GenerationResult.TokenLogprobs[host.length];
    for (int i = 0; i < host.length; i++) {
      SamplingRow r = rows.get(i);
      tokens[i] = io.autoglm.sample.Sampler.sample(host[i], r);
      if (r.wantsLogprobs()) {
        logprobs[i] = io.autoglm.sample.LogitProcessing.logprobs(host[i], r.sampleableColumns(host[i].length),
            tokens[i], r.processing().orElseThrow().topLogprobs());
      }
    }
    return new Sampled(tokens, logprobs);
  }

  @Override
  void close();
}

package io.autoglm;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;

/**
 * How to pick each next token, and when to stop.
 *
 * <p>Temperature 0 is greedy (argmax). Otherwise logits are divided by the temperature, then filtered by top-k
 * (0 = off) and top-p (1 = off), then sampled. With a seed, the same request gives the same tokens on the same
 * backend; without one, sampling is random.
 *
 * @param maxNewTokens generated tokens at most (the context length also bounds them)
 * @param stopTokenIds ids that end generation, in addition to the model's eos ids
 * @param stop stop strings, matched on the decoded text (text requests only); never emitted
 * @param responseFormat constrains the output to JSON (an object, or a schema's instances): the mask is applied
 *     before temperature, top-k and top-p; eos is allowed only once the value is complete
 * @param presencePenalty OpenAI's: subtracted once from the logit of every id generated so far, in [-2, 2]
 * @param frequencyPenalty OpenAI's: subtracted from an id's logit once per time it was generated, in [-2, 2]
 * @param repetitionPenalty transformers' (CTRL): the logit of every id of the prompt or the output so far is
 *     divided by it when positive and multiplied by it when negative; 1 = off, &gt; 0
 * @param logitBias added to the logits of these ids before sampling, each in [-100, 100]
 * @param minP drop the ids whose probability (after temperature) is below minP × the top id's; 0 = off, [0, 1]
 * @param logprobs when present, every generated token carries its log-probability and the given number (0 to 20)
 *     of most likely ids with theirs: log-softmax of the model's raw logits (see docs/sampling.md)
 */
public record SamplingParams(
    int maxNewTokens,
    double temperature,
    int topK,
    double topP,
    OptionalLong seed,
    Set<Integer> stopTokenIds,
    List<String> stop,
    boolean ignoreEos,
    Optional<ResponseFormat> responseFormat,
    double presencePenalty,
    double frequencyPenalty,
    double repetitionPenalty,
    Map<Integer, Float> logitBias,
    double minP,
    OptionalInt logprobs) {
  /** The most top alternatives a token can carry ({@code top_logprobs}), as OpenAI allows. */
  public static final int MAX_TOP_LOGPROBS = 20;

  public SamplingParams {
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("maxNewTokens (" + maxNewTokens + ") must be >= 1");
    }
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature (" + temperature + ") must be finite and >= 0");
    }
    if (topK < 0) {
      throw new IllegalArgumentException("topK (" + topK + ") must be >= 0 (0 turns it off)");
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("topP (" + topP + ") must be in (0, 1]");
    }
    if (seed == null) {
      throw new IllegalArgumentException("seed must not be null; use OptionalLong.empty()");
    }
    if (responseFormat == null) {
      throw new IllegalArgumentException("responseFormat must not be null; use Optional.empty()");
    }
    checkPenalties(presencePenalty, frequencyPenalty, repetitionPenalty, minP);
    if (logprobs == null) {
      throw new IllegalArgumentException("logprobs must not be null; use OptionalInt.empty()");
    }
    if (logprobs.isPresent() && (logprobs.getAsInt() < 0 || logprobs.getAsInt() > MAX_TOP_LOGPROBS)) {
      throw new IllegalArgumentException("logprobs (" + logprobs.getAsInt() + " top alternatives) must be in [0, "
          + MAX_TOP_LOGPROBS + "]");
    }
    logitBias = Map.copyOf(logitBias);
    for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
      float b = e.getValue();
      if (e.getKey() < 0 || !(b >= -100 && b <= 100)) {
        throw new IllegalArgumentException("logitBias " + e.getKey() + " -> " + b
            + ": expected a token id >= 0 and a bias in [-100, 100]");
      }
    }
    stopTokenIds = Set.copyOf(stopTokenIds);
    stop = List.copyOf(stop);
    for (String s : stop) {
      if (s.isEmpty()) {
        throw new IllegalArgumentException("stop strings must not be empty");
      }
    }
  }

  /** Parameters without penalties, logit bias, min-p or logprobs (the form before they existed). */
  public SamplingParams(int maxNewTokens, double temperature, int topK, double topP, OptionalLong seed,
      Set<Integer> stopTokenIds, List<String> stop, boolean ignoreEos, Optional<ResponseFormat> responseFormat) {
    this(maxNewTokens, temperature, topK, topP, seed, stopTokenIds, stop, ignoreEos, responseFormat, 0, 0, 1,
        Map.of(), 0, OptionalInt.empty());
  }

  private static void checkPenalties(double presence, double frequency, double repetition, double minP) {
    if (!(presence >= -2 && presence <= 2)) {
      throw new IllegalArgumentException("presencePenalty (" + presence + ") must be in [-2, 2]");
    }
    if (!(frequency >= -2 && frequency <= 2)) {
      throw new IllegalArgumentException("frequencyPenalty (" + frequency + ") must be in [-2, 2]");
    }
    if (!(repetition > 0) || Double.isInfinite(repetition)) {
      throw new IllegalArgumentException("repetitionPenalty (" + repetition + ") must be finite and > 0 (1 = off)");
    }
    if (!(minP >= 0 && minP <= 1)) {
      throw new IllegalArgumentException("minP (" + minP + ") must be in [0, 1] (0 = off)");
    }
  }

  /**
   * Whether the logits are changed before sampling beyond temperature, top-k and top-p: penalties, logit bias or
   * min-p (a grammar's mask aside).
   */
  public boolean adjustsLogits() {
    return presencePenalty != 0 || frequencyPenalty != 0 || repetitionPenalty != 1 || !logitBias.isEmpty()
        || (minP > 0 && !isGreedy());
  }

  /** Greedy decoding of up to {@code maxNewTokens} tokens. */
  public static SamplingParams greedy(int maxNewTokens) {
    return builder().maxNewTokens(maxNewTokens).build();
  }

  public boolean isGreedy() {
    return temperature == 0;
  }

  /** Whether the same request always gives the same output: greedy, or seeded. */
  public boolean isDeterministic() {
    return isGreedy() || seed.isPresent();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.maxNewTokens = maxNewTokens;
    b.temperature = temperature;
    b.topK = topK;
    b.topP = topP;
    b.seed = seed;
    b.stopTokenIds = stopTokenIds;
    b.stop = stop;
    b.ignoreEos = ignoreEos;
    b.responseFormat = responseFormat;
    b.presencePenalty = presencePenalty;
    b.frequencyPenalty = frequencyPenalty;
    b.repetitionPenalty = repetitionPenalty;
    b.logitBias = logitBias;
    b.minP = minP;
    b.logprobs = logprobs;
    return b;
  }

  /** Builds {@link SamplingParams}; defaults: 256 tokens, greedy, no top-k/top-p, no seed. */
  public static final class Builder {
    private int maxNewTokens = 256;
    private double temperature = 0;
    private int topK = 0;
    private double topP = 1.0;
    private OptionalLong seed = OptionalLong.empty();
    private Set<Integer> stopTokenIds = Set.of();
    private List<String> stop = List.of();
    private boolean ignoreEos;
    private Optional<ResponseFormat> responseFormat = Optional.empty();
    private double presencePenalty;
    private double frequencyPenalty;
    private double repetitionPenalty = 1;
    private Map<Integer, Float> logitBias = Map.of();
    private double minP;
    private OptionalInt logprobs = OptionalInt.empty();

    private Builder() {}

    public Builder maxNewTokens(int maxNewTokens) {
      this.maxNewTokens = maxNewTokens;
      return this;
    }

    public Builder temperature(double temperature) {
      this.temperature = temperature;
      return this;
    }

    public Builder topK(int topK) {
      this.topK = topK;
      return this;
    }

    public Builder topP(double topP) {
      this.topP = topP;
      return this;
    }

    public Builder seed(long seed) {
      this.seed = OptionalLong.of(seed);
      return this;
    }

    public Builder stopTokenIds(Set<Integer> ids) {
      this.stopTokenIds = Set.copyOf(ids);
      return this;
    }

    public Builder stop(List<String> stop) {
      this.stop = List.copyOf(stop);
      return this;
    }

    /** Keep generating past eos ids (benchmarks). */
    public Builder ignoreEos(boolean ignoreEos) {
      this.ignoreEos = ignoreEos;
      return this;
    }

    /** Constrains the output to JSON; see {@link ResponseFormat}. */
    public Builder responseFormat(ResponseFormat responseFormat) {
      this.responseFormat = Optional.of(responseFormat);
      return this;
    }

    /** OpenAI's presence penalty, [-2, 2]; 0 = off. */
    public Builder presencePenalty(double penalty) {
      this.presencePenalty = penalty;
      return this;
    }

    /** OpenAI's frequency penalty, [-2, 2]; 0 = off. */
    public Builder frequencyPenalty(double penalty) {
      this.frequencyPenalty = penalty;
      return this;
    }

    /** transformers' repetition penalty over the prompt and the output, &gt; 0; 1 = off. */
    public Builder repetitionPenalty(double penalty) {
      this.repetitionPenalty = penalty;
      return this;
    }

    /** Biases added to these ids' logits, each in [-100, 100]. */
    public Builder logitBias(Map<Integer, Float> bias) {
      this.logitBias = Map.copyOf(bias);
      return this;
    }

    /** Min-p filtering, [0, 1]; 0 = off. */
    public Builder minP(double minP) {
      this.minP = minP;
      return this;
    }

    /** Each token's log-probability and its {@code top} (0 to 20) most likely alternatives. */
    public Builder logprobs(int top) {
      this.logprobs = OptionalInt.of(top);
      return this;
    }

    public SamplingParams build() {
      return new SamplingParams(maxNewTokens, temperature, topK, topP, seed, stopTokenIds, stop, ignoreEos,
          responseFormat, presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, minP, logprobs);
    }
  }
}

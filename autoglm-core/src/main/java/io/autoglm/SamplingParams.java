package io.autoglm;

import java.util.List;
import java.util.Optional;
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
    Optional<ResponseFormat> responseFormat) {

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
    stopTokenIds = Set.copyOf(stopTokenIds);
    stop = List.copyOf(stop);
    for (String s : stop) {
      if (s.isEmpty()) {
        throw new IllegalArgumentException("stop strings must not be empty");
      }
    }
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

    public SamplingParams build() {
      return new SamplingParams(maxNewTokens, temperature, topK, topP, seed, stopTokenIds, stop, ignoreEos,
          responseFormat);
    }
  }
}

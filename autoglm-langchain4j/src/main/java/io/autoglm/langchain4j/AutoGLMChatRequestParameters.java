package io.autoglm.langchain4j;

import static dev.langchain4j.internal.Utils.getOrDefault;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import java.util.Objects;

/**
 * LangChain4j's common request parameters plus AutoGLM's own: {@code seed} (the same seeded request gives the same
 * tokens on the same backend). Merges as LangChain4j's provider parameters do: a value set here wins over the
 * model's default, an unset one ({@code null}) keeps it.
 */
public class AutoGLMChatRequestParameters extends DefaultChatRequestParameters {
  private final Long seed;

  private AutoGLMChatRequestParameters(Builder builder) {
    super(builder);
    this.seed = builder.seed;
  }

  /** The sampling seed; {@code null}: random sampling (unless greedy). */
  public Long seed() {
    return seed;
  }

  @Override
  public AutoGLMChatRequestParameters overrideWith(ChatRequestParameters that) {
    return builder().overrideWith(this).overrideWith(that).build();
  }

  @Override
  public AutoGLMChatRequestParameters defaultedBy(ChatRequestParameters that) {
    return builder().overrideWith(that).overrideWith(this).build();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AutoGLMChatRequestParameters that && super.equals(o) && Objects.equals(seed, that.seed);
  }

  @Override
  public int hashCode() {
    return Objects.hash(super.hashCode(), seed);
  }

  @Override
  public String toString() {
    return "AutoGLMChatRequestParameters{" + super.toString() + ", seed=" + seed + "}";
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link AutoGLMChatRequestParameters}; every parameter starts unset. */
  public static final class Builder extends DefaultChatRequestParameters.Builder<Builder> {
    private Long seed;

    private Builder() {}

    @Override
    public Builder overrideWith(ChatRequestParameters parameters) {
      super.overrideWith(parameters);
      if (parameters instanceof AutoGLMChatRequestParameters p) {
        seed(getOrDefault(p.seed(), seed));
      }
      return this;
    }

    public Builder seed(Long seed) {
      this.seed = seed;
      return this;
    }

    @Override
    public AutoGLMChatRequestParameters build() {
      return new AutoGLMChatRequestParameters(this);
    }
  }
}

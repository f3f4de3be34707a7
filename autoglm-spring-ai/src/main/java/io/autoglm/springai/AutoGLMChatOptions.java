package io.autoglm.springai;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.DefaultToolCallingChatOptions;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import org.springframework.ai.tool.ToolCallback;

/**
 * Spring AI's portable chat options plus AutoGLM's: {@code seed}, {@code toolChoice} and the native structured
 * output schema ({@link StructuredOutputChatOptions}: {@code ChatClient.entity(...)} with
 * {@code useProviderStructuredOutput()} or {@code AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT} sets it, and
 * constrained decoding keeps the answer valid under it). Unset options ({@code null}) take the model's defaults.
 */
public class AutoGLMChatOptions extends DefaultToolCallingChatOptions implements StructuredOutputChatOptions {
  /** Whether and how the model calls tools. */
  public enum ToolChoice {
    /** The model may call a tool (the default). */
    AUTO,
    /**
     * One call is forced by constrained decoding while the last message is not a tool result; after one the model
     * answers freely, so ChatClient's tool loop ends.
     */
    REQUIRED,
    /** The tools are left out of the prompt. */
    NONE
  }

  private final @Nullable Long seed;
  private final @Nullable ToolChoice toolChoice;
  private final @Nullable String outputSchema;

  private AutoGLMChatOptions(Builder b) {
    super(b.toolCallbacks(), b.toolContext(), b.model(), b.frequencyPenalty(), b.maxTokens(), b.presencePenalty(),
        b.stopSequences(), b.temperature(), b.topK(), b.topP());
    this.seed = b.seed;
    this.toolChoice = b.toolChoice;
    this.outputSchema = b.outputSchema;
  }

  public static Builder builder() {
    return new Builder();
  }

  public @Nullable Long getSeed() {
    return seed;
  }

  public @Nullable ToolChoice getToolChoice() {
    return toolChoice;
  }

  @Override
  public @Nullable String getOutputSchema() {
    return outputSchema;
  }

  @Override
  public Builder mutate() {
    return builder().model(getModel()).frequencyPenalty(getFrequencyPenalty()).maxTokens(getMaxTokens())
        .presencePenalty(getPresencePenalty()).stopSequences(getStopSequences()).temperature(getTemperature())
        .topK(getTopK()).topP(getTopP()).toolCallbacks(getToolCallbacks()).toolContext(getToolContext())
        .seed(seed).toolChoice(toolChoice).outputSchema(outputSchema);
  }

  /**
   * These options (the model's defaults) overridden by a request's: each option the request sets wins; its tool
   * callbacks and tool context replace the defaults' when it has any (Spring AI's merge rule).
   */
  AutoGLMChatOptions overriddenBy(@Nullable ChatOptions request) {
    if (request == null) {
      return this;
    }
    Builder b = mutate().toolCallbacks((List<ToolCallback>) null).toolContext((Map<String, Object>) null);
    b.combineWith(request.mutate());
    List<ToolCallback> callbacks = null;
    Map<String, Object> context = null;
    if (request instanceof ToolCallingChatOptions t) {
      callbacks = t.getToolCallbacks();
      context = t.getToolContext();
    }
    if (request instanceof StructuredOutputChatOptions so && so.getOutputSchema() != null) {
      b.outputSchema(so.getOutputSchema());
    }
    return b.toolCallbacks(ToolCallingChatOptions.mergeToolCallbacks(callbacks, getToolCallbacks()))
        .toolContext((Map<String, Object>) null)
        .toolContext(ToolCallingChatOptions.mergeToolContext(context, getToolContext()))
        .build();
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof AutoGLMChatOptions that && super.equals(o) && Objects.equals(seed, that.seed)
        && toolChoice == that.toolChoice && Objects.equals(outputSchema, that.outputSchema);
  }

  @Override
  public int hashCode() {
    return Objects.hash(super.hashCode(), seed, toolChoice, outputSchema);
  }

  /** Builds {@link AutoGLMChatOptions}; {@link #combineWith} takes every option the other builder set. */
  public static final class Builder extends DefaultToolCallingChatOptions.Builder<Builder>
      implements StructuredOutputChatOptions.Builder<Builder> {
    private @Nullable Long seed;
    private @Nullable ToolChoice toolChoice;
    private @Nullable String outputSchema;

    private Builder() {}

    public Builder seed(@Nullable Long seed) {
      this.seed = seed;
      return this;
    }

    public Builder toolChoice(@Nullable ToolChoice toolChoice) {
      this.toolChoice = toolChoice;
      return this;
    }

    /** A JSON Schema (JSON text) the answer must be valid under. */
    @Override
    public Builder outputSchema(@Nullable String outputSchema) {
      this.outputSchema = outputSchema;
      return this;
    }

    @Override
    public Builder combineWith(ChatOptions.Builder<?> other) {
      super.combineWith(other);
      if (other instanceof Builder that) {
        seed = that.seed != null ? that.seed : seed;
        toolChoice = that.toolChoice != null ? that.toolChoice : toolChoice;
        outputSchema = that.outputSchema != null ? that.outputSchema : outputSchema;
      }
      return this;
    }

    @Nullable List<ToolCallback> toolCallbacks() {
      return toolCallbacks;
    }

    @Nullable Map<String, Object> toolContext() {
      return toolContext;
    }

    @Nullable String model() {
      return model;
    }

    @Nullable Double frequencyPenalty() {
      return frequencyPenalty;
    }

    @Nullable Integer maxTokens() {
      return maxTokens;
    }

    @Nullable Double presencePenalty() {
      return presencePenalty;
    }

    @Nullable List<String> stopSequences() {
      return stopSequences;
    }

    @Nullable Double temperature() {
      return temperature;
    }

    @Nullable Integer topK() {
      return topK;
    }

    @Nullable Double topP() {
      return topP;
    }

    @Override
    public AutoGLMChatOptions build() {
      return new AutoGLMChatOptions(this);
    }
  }
}

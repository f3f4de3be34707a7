package io.autoglm.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ToolChoice;
import io.autoglm.AutoGLM;
import io.autoglm.SamplingParams;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What both chat models are built from: the engine, the default request parameters (a request's own parameters
 * override them one by one), the engine-side timeout and the rate limiter's caller key. Unset sampling parameters
 * take the engine's defaults: greedy, no top-k / top-p, 256 new tokens. {@code build()} checks the defaults and
 * leaves the builder reusable.
 */
abstract class ModelBuilder<B extends ModelBuilder<B>> {
  private AutoGLM glm;
  private AutoGLMChatRequestParameters defaults = AutoGLMChatRequestParameters.builder().build();
  private Duration timeout;
  private String user = "langchain4j";
  private List<ChatModelListener> listeners = List.of();

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  private B with(AutoGLMChatRequestParameters.Builder change) {
    defaults = defaults.overrideWith(change.build());
    return self();
  }

  /** The engine that answers; required. The model does not close it. */
  public B autoGLM(AutoGLM glm) {
    this.glm = Objects.requireNonNull(glm, "autoGLM");
    return self();
  }

  /** Defaults for every request; each non-null parameter replaces the one set so far. */
  public B defaultRequestParameters(ChatRequestParameters parameters) {
    defaults = defaults.overrideWith(Objects.requireNonNull(parameters, "defaultRequestParameters"));
    return self();
  }

  public B temperature(Double temperature) {
    return with(AutoGLMChatRequestParameters.builder().temperature(temperature));
  }

  public B topP(Double topP) {
    return with(AutoGLMChatRequestParameters.builder().topP(topP));
  }

  public B topK(Integer topK) {
    return with(AutoGLMChatRequestParameters.builder().topK(topK));
  }

  /** New tokens at most (LangChain4j's {@code maxOutputTokens}). */
  public B maxTokens(Integer maxTokens) {
    return with(AutoGLMChatRequestParameters.builder().maxOutputTokens(maxTokens));
  }

  public B seed(Long seed) {
    return with(AutoGLMChatRequestParameters.builder().seed(seed));
  }

  public B stopSequences(List<String> stopSequences) {
    return with(AutoGLMChatRequestParameters.builder().stopSequences(stopSequences));
  }

  /**
   * AUTO (the default), NONE (tools left out of the prompt) or REQUIRED: one call forced by constrained decoding
   * while the last message is not a tool result, so that AiServices' tool loop ends after it.
   */
  public B toolChoice(ToolChoice toolChoice) {
    return with(AutoGLMChatRequestParameters.builder().toolChoice(toolChoice));
  }

  public B responseFormat(ResponseFormat responseFormat) {
    return with(AutoGLMChatRequestParameters.builder().responseFormat(responseFormat));
  }

  /** An engine-side deadline per request: past it the request stops and the call fails with a timeout. */
  public B timeout(Duration timeout) {
    if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
      throw new IllegalArgumentException("timeout (" + timeout + ") must be positive");
    }
    this.timeout = timeout;
    return self();
  }

  /** The caller key the engine's rate limiter counts requests under (default {@code langchain4j}). */
  public B user(String user) {
    if (user == null || user.isBlank()) {
      throw new IllegalArgumentException("user must be a non-blank caller key, got '" + user + "'");
    }
    this.user = user;
    return self();
  }

  public B listeners(List<ChatModelListener> listeners) {
    this.listeners = List.copyOf(listeners);
    return self();
  }

  AutoGLMChatRequestParameters defaults() {
    return defaults;
  }

  List<ChatModelListener> listenerList() {
    return listeners;
  }

  /** The request mapping of the engine, after checking the defaults as the engine would. */
  ChatRequests requests() {
    if (glm == null) {
      throw new IllegalStateException("autoGLM is not set: call builder().autoGLM(glm) with a loaded engine");
    }
    SamplingParams.Builder s = SamplingParams.builder();
    try {
      if (defaults.temperature() != null) {
        s.temperature(defaults.temperature());
      }
      if (defaults.topP() != null) {
        s.topP(defaults.topP());
      }
      if (defaults.topK() != null) {
        s.topK(defaults.topK());
      }
      if (defaults.maxOutputTokens() != null) {
        s.maxNewTokens(defaults.maxOutputTokens());
      }
      s.stop(defaults.stopSequences()).build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("default " + e.getMessage(), e);
    }
    return ChatRequests.of(glm, Optional.ofNullable(timeout), user);
  }
}

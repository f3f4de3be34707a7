package io.autoglm.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;

/**
 * A LangChain4j {@link ChatModel} answered in-process by an {@link io.autoglm.AutoGLM} engine: requests join the
 * engine's continuous batch, with no network hop.
 *
 * <pre>{@code
 * ChatModel model = AutoGLMChatModel.builder().autoGLM(glm).temperature(0.7).maxTokens(512).build();
 * String answer = model.chat("Hello!");
 * }</pre>
 *
 * <p>Tools, tool choice (REQUIRED forces one call per user turn), JSON schema response formats, usage and finish
 * reasons are mapped as docs/langchain4j.md says; unsupported parameters are refused by name. Interrupting the
 * calling thread cancels the request and frees its KV blocks.
 */
public final class AutoGLMChatModel implements ChatModel {
  private final ChatRequests requests;
  private final AutoGLMChatRequestParameters defaults;
  private final List<ChatModelListener> listeners;

  private AutoGLMChatModel(Builder b) {
    this.requests = b.requests();
    this.defaults = b.defaults();
    this.listeners = b.listenerList();
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public ChatResponse doChat(ChatRequest request) {
    GenerationHandle handle;
    try {
      handle = requests.glm().submit(requests.toTextRequest(request));
    } catch (RuntimeException e) {
      throw ChatResponses.translate(e);
    }
    GenerationResult result;
    try {
      result = handle.result().get();
    } catch (InterruptedException e) {
      handle.cancel();
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while waiting for request " + handle.requestId());
    } catch (ExecutionException e) {
      throw ChatResponses.translate(e.getCause());
    }
    return ChatResponses.toChatResponse(result, requests.glm().modelId());
  }

  @Override
  public ChatRequestParameters defaultRequestParameters() {
    return defaults;
  }

  @Override
  public List<ChatModelListener> listeners() {
    return listeners;
  }

  @Override
  public ModelProvider provider() {
    return ModelProvider.OTHER;
  }

  /** JSON schema response formats are enforced by constrained decoding, so AiServices sends them. */
  @Override
  public Set<Capability> supportedCapabilities() {
    return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
  }

  /** Builds an {@link AutoGLMChatModel}; see {@link ModelBuilder} for the defaults. */
  public static final class Builder extends ModelBuilder<Builder> {
    private Builder() {}

    public AutoGLMChatModel build() {
      return new AutoGLMChatModel(this);
    }
  }
}

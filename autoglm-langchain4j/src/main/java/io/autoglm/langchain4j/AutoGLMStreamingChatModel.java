package io.autoglm.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.autoglm.GenerationHandle;
import io.autoglm.TextRequest;
import io.autoglm.TextRequest.OutputParsing;
import java.util.List;
import java.util.Set;

/**
 * A LangChain4j {@link StreamingChatModel} answered in-process by an {@link io.autoglm.AutoGLM} engine. Partial
 * responses, thinking and tool-call fragments arrive on the engine's callback threads as they are generated, then
 * one {@code onCompleteResponse} with usage and finish reason (or one {@code onError}).
 *
 * <p>Cancellation: {@code context.streamingHandle().cancel()} from any partial callback, or a callback that
 * throws, stops the request and frees its KV blocks at the engine's next step; a throwing callback's exception goes
 * to {@code onError} (LangChain4j's convention), a cancelled stream gets no further callback.
 */
public final class AutoGLMStreamingChatModel implements StreamingChatModel {
  private final ChatRequests requests;
  private final AutoGLMChatRequestParameters defaults;
  private final List<ChatModelListener> listeners;

  private AutoGLMStreamingChatModel(Builder b) {
    this.requests = b.requests();
    this.defaults = b.defaults();
    this.listeners = b.listenerList();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Returns at once; a request the engine refuses (bad parameters, overload, rate limit) goes to onError. */
  @Override
  public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
    GenerationHandle handle;
    TextRequest text;
    try {
      text = requests.toTextRequest(request);
      handle = requests.glm().submit(text);
    } catch (RuntimeException e) {
      handler.onError(ChatResponses.translate(e));
      return;
    }
    handle.tokens().subscribe(new StreamRelay(handle, handler, requests.glm().modelId(),
        text.parsing() != OutputParsing.RAW));
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

  @Override
  public Set<Capability> supportedCapabilities() {
    return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
  }

  /** Builds an {@link AutoGLMStreamingChatModel}; see {@link ModelBuilder} for the defaults. */
  public static final class Builder extends ModelBuilder<Builder> {
    private Builder() {}

    public AutoGLMStreamingChatModel build() {
      return new AutoGLMStreamingChatModel(this);
    }
  }
}

package io.autoglm.langchain4j;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.autoglm.TextRequest.OutputParsing;

/**
 * A LangChain4j {@link StreamingChatModel} answered in-process by an {@link io.autoglm.AutoGLM} engine. Partial
 * responses, thinking and tool-call fragments arrive on the engine's callback threads as they are generated, then
 * one {@code onCompleteResponse} with usage and finish reason (or one {@code onError}).
 *
 * <p>Cancellation: {@code context.streamingHandle().cancel()} from any partial callback, or a callback that
 * throws, stops the request and frees its KV blocks at the engine's next step; a throwing callback's exception goes
 * to {@code onError} (LangChain4j's convention), a cancelled stream gets no further callback.
 */
public final class AutoGLMStreamingChatModel extends EngineChatModel implements StreamingChatModel {
  private AutoGLMStreamingChatModel(Builder b) {
    super(b);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Returns at once; a request the engine refuses (bad parameters, overload, rate limit) goes to onError. */
  @Override
  public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
    Submitted submitted;
    try {
      submitted = submit(request);
    } catch (RuntimeException e) {
      handler.onError(e);
      return;
    }
    submitted.handle().tokens().subscribe(new StreamRelay(submitted.handle(), handler, modelName(),
        submitted.text().parsing() != OutputParsing.RAW));
  }

  /** Builds an {@link AutoGLMStreamingChatModel}; see {@link ModelBuilder} for the defaults. */
  public static final class Builder extends ModelBuilder<Builder> {
    private Builder() {}

    public AutoGLMStreamingChatModel build() {
      return new AutoGLMStreamingChatModel(this);
    }
  }
}

package io.autoglm.langchain4j;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
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
public final class AutoGLMChatModel extends EngineChatModel implements ChatModel {
  private AutoGLMChatModel(Builder b) {
    super(b);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public ChatResponse doChat(ChatRequest request) {
    GenerationHandle handle = submit(request).handle();
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
    return ChatResponses.toChatResponse(result, modelName());
  }

  /** Builds an {@link AutoGLMChatModel}; see {@link ModelBuilder} for the defaults. */
  public static final class Builder extends ModelBuilder<Builder> {
    private Builder() {}

    public AutoGLMChatModel build() {
      return new AutoGLMChatModel(this);
    }
  }
}

package io.autoglm.springai;

import io.autoglm.GenerationResult;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;

/**
 * AutoGLM results in Spring AI's types. The finish reason is the engine's name ({@code STOP}, {@code LENGTH},
 * {@code TOOL_CALLS}, as Spring AI's OpenAI model spells OpenAI's); reasoning is the assistant message's
 * {@code reasoningContent} property. TIMEOUT and ERROR (the request failed alone) are
 * {@link IllegalStateException}s with the engine's reason, CANCELLED a {@link CancellationException}.
 */
final class Responses {
  static final String REASONING = "reasoningContent";

  private Responses() {}

  static ChatResponse toChatResponse(GenerationResult r, String modelId) {
    switch (r.finishReason()) {
      case TIMEOUT -> throw new IllegalStateException("request " + r.requestId() + " ran past its timeout after "
          + r.usage().completionTokens() + " generated tokens");
      case ERROR -> throw new IllegalStateException("request " + r.requestId() + " failed: "
          + r.error().orElse("no reason given"));
      case CANCELLED -> throw new CancellationException("request " + r.requestId() + " was cancelled");
      default -> { }
    }
    AssistantMessage.Builder<?> message = AssistantMessage.builder().content(r.content())
        .toolCalls(r.toolCalls().stream().map(Responses::call).toList());
    r.reasoningContent().ifPresent(t -> message.properties(Map.of(REASONING, t)));
    return chunk(message.build(), r.requestId(), r, modelId);
  }

  /**
   * A response of one generation: {@code message}, with the finish reason and usage of {@code r} when present (the
   * last chunk of a stream, or a whole answer).
   */
  static ChatResponse chunk(AssistantMessage message, String requestId, GenerationResult r, String modelId) {
    ChatGenerationMetadata generation = r == null ? ChatGenerationMetadata.NULL
        : ChatGenerationMetadata.builder().finishReason(r.finishReason().name()).build();
    ChatResponseMetadata.Builder metadata = ChatResponseMetadata.builder().model(modelId).id(requestId);
    if (r != null) {
      metadata.usage(new DefaultUsage(r.usage().promptTokens(), r.usage().completionTokens(),
          r.usage().totalTokens()));
    }
    return new ChatResponse(List.of(new Generation(message, generation)), metadata.build());
  }

  static AssistantMessage.ToolCall call(ToolCall c) {
    return new AssistantMessage.ToolCall(c.id(), "function", c.name(), c.argumentsJson());
  }

  /**
   * A failure to submit or to finish, unwrapped: the engine's own exceptions stay ({@link IllegalArgumentException}
   * for a bad request, {@link io.autoglm.spi.RateLimitExceededException}, {@link io.autoglm.OverloadedException}).
   */
  static RuntimeException translate(Throwable t) {
    Throwable e = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return e instanceof RuntimeException re ? re : new IllegalStateException(e.getMessage(), e);
  }
}

package io.autoglm.langchain4j;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.exception.InternalServerException;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.LangChain4jException;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.exception.TimeoutException;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.autoglm.GenerationResult;
import io.autoglm.OverloadedException;
import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;

/**
 * AutoGLM results and failures in LangChain4j's types. Finish reasons: STOP, LENGTH and TOOL_CALLS map to STOP,
 * LENGTH and TOOL_EXECUTION; TIMEOUT is a {@link TimeoutException}, ERROR (the request failed alone) an
 * {@link InternalServerException} with the engine's reason, CANCELLED a {@link CancellationException}.
 */
final class ChatResponses {
  private ChatResponses() {}

  static ChatResponse toChatResponse(GenerationResult r, String modelName) {
    switch (r.finishReason()) {
      case TIMEOUT -> throw new TimeoutException("request " + r.requestId() + " ran past its timeout after "
          + r.usage().completionTokens() + " generated tokens");
      case ERROR -> throw new InternalServerException("request " + r.requestId() + " failed: "
          + r.error().orElse("no reason given"));
      case CANCELLED -> throw new CancellationException("request " + r.requestId() + " was cancelled");
      default -> { }
    }
    List<ToolCall> calls = r.toolCalls();
    AiMessage.Builder message = AiMessage.builder()
        .text(calls.isEmpty() || !r.content().isEmpty() ? r.content() : null)
        .toolExecutionRequests(calls.stream().map(ChatResponses::request).toList());
    r.reasoningContent().ifPresent(message::thinking);
    return ChatResponse.builder()
        .aiMessage(message.build())
        .metadata(ChatResponseMetadata.builder()
            .id(r.requestId())
            .modelName(modelName)
            .tokenUsage(new TokenUsage(r.usage().promptTokens(), r.usage().completionTokens(),
                r.usage().totalTokens()))
            .finishReason(finishReason(r.finishReason()))
            .build())
        .build();
  }

  static FinishReason finishReason(io.autoglm.FinishReason reason) {
    return switch (reason) {
      case STOP -> FinishReason.STOP;
      case LENGTH -> FinishReason.LENGTH;
      case TOOL_CALLS -> FinishReason.TOOL_EXECUTION;
      default -> FinishReason.OTHER;
    };
  }

  static ToolExecutionRequest request(ToolCall c) {
    return ToolExecutionRequest.builder().id(c.id()).name(c.name()).arguments(c.argumentsJson()).build();
  }

  /** A failure to submit or to finish, as LangChain4j's exception of the same meaning. */
  static RuntimeException translate(Throwable t) {
    Throwable e = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (e instanceof LangChain4jException || e instanceof CancellationException) {
      return (RuntimeException) e;
    }
    if (e instanceof RateLimitExceededException || e instanceof OverloadedException) {
      return new RateLimitException(e.getMessage(), e);
    }
    if (e instanceof IllegalArgumentException) {
      return new InvalidRequestException(e.getMessage(), e);
    }
    return e instanceof RuntimeException re ? re : new LangChain4jException(e.getMessage(), e);
  }
}

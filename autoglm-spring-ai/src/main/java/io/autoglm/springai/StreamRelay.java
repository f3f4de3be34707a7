package io.autoglm.springai;

import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TokenEvent;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import java.util.Map;
import java.util.concurrent.Flow;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.model.ChatResponse;
import reactor.core.publisher.FluxSink;

/**
 * Relays one request's token stream into a Flux: a chunk per piece of content (its text) or reasoning (the
 * {@code reasoningContent} property), then a last chunk with the complete tool calls, the finish reason and the
 * usage. Tool calls arrive whole in the last chunk, as Spring AI's tool-calling advisor reads them from the
 * aggregated answer. Cancelling the subscription stops the request and frees its KV blocks.
 */
final class StreamRelay implements Flow.Subscriber<TokenEvent> {
  private final GenerationHandle handle;
  private final FluxSink<ChatResponse> sink;
  private final String modelId;
  private final boolean parsed;
  private volatile Flow.Subscription subscription;

  /** @param parsed the request's answer is parsed (its events carry deltas, else raw text) */
  StreamRelay(GenerationHandle handle, FluxSink<ChatResponse> sink, String modelId, boolean parsed) {
    this.handle = handle;
    this.sink = sink;
    this.modelId = modelId;
    this.parsed = parsed;
    sink.onCancel(this::cancel);
  }

  private void cancel() {
    Flow.Subscription s = subscription;
    if (s != null) {
      s.cancel();
    }
    handle.cancel();
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    s.request(Long.MAX_VALUE);
  }

  @Override
  public void onNext(TokenEvent event) {
    if (!parsed) {
      text(event.text());
      return;
    }
    for (AnswerDelta d : event.deltas()) {
      if (d instanceof AnswerDelta.Content c) {
        text(c.text());
      } else if (d instanceof AnswerDelta.Reasoning r && !r.text().isEmpty()) {
        sink.next(Responses.chunk(AssistantMessage.builder().content("")
            .properties(Map.of(Responses.REASONING, r.text())).build(), handle.requestId(), null, modelId));
      }
    }
  }

  private void text(String text) {
    if (!text.isEmpty()) {
      sink.next(Responses.chunk(new AssistantMessage(text), handle.requestId(), null, modelId));
    }
  }

  @Override
  public void onError(Throwable t) {
    sink.error(Responses.translate(t));
  }

  @Override
  public void onComplete() {
    handle.result().whenComplete(this::finish);
  }

  private void finish(GenerationResult r, Throwable t) {
    if (t != null) {
      sink.error(Responses.translate(t));
      return;
    }
    try {
      ChatResponse whole = Responses.toChatResponse(r, modelId);
      AssistantMessage last = AssistantMessage.builder().content("")
          .toolCalls(whole.getResult().getOutput().getToolCalls()).build();
      sink.next(Responses.chunk(last, r.requestId(), r, modelId));
      sink.complete();
    } catch (RuntimeException e) {
      sink.error(e);
    }
  }
}

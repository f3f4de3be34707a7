package io.autoglm.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.PartialThinking;
import dev.langchain4j.model.chat.response.PartialThinkingContext;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.chat.response.PartialToolCallContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TokenEvent;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.toolcall.ParsedAnswer.ToolCall;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays one request's token stream to a LangChain4j handler: content as partial responses, reasoning as partial
 * thinking, call pieces as partial tool calls, then the complete calls and the final {@link ChatResponse} (usage,
 * finish reason). Invariants: at most one of {@code onCompleteResponse} / {@code onError} is called, and nothing
 * after it; a handler callback that throws cancels the request (its KV blocks are freed) and is reported once to
 * {@code onError}; after {@link #cancel()} nothing more is delivered.
 */
final class StreamRelay implements Flow.Subscriber<TokenEvent>, StreamingHandle {
  private static final Logger LOG = LoggerFactory.getLogger(StreamRelay.class);

  private final GenerationHandle handle;
  private final StreamingChatResponseHandler handler;
  private final String modelName;
  private final boolean parsed;
  private final AtomicBoolean done = new AtomicBoolean(); // a terminal callback ran, or the caller cancelled
  private final Map<Integer, AnswerDelta.ToolCallStart> calls = new HashMap<>(); // delivery thread only
  private volatile boolean cancelled;
  private volatile Flow.Subscription subscription;

  /** @param parsed the request's answer is parsed (its events carry deltas, else raw text) */
  StreamRelay(GenerationHandle handle, StreamingChatResponseHandler handler, String modelName, boolean parsed) {
    this.handle = handle;
    this.handler = handler;
    this.modelName = modelName;
    this.parsed = parsed;
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    s.request(Long.MAX_VALUE);
  }

  @Override
  public void onNext(TokenEvent event) {
    if (done.get()) {
      return;
    }
    try {
      if (!parsed) {
        partialResponse(event.text());
      }
      for (AnswerDelta d : event.deltas()) {
        deliver(d);
      }
    } catch (RuntimeException e) {
      handle.cancel();
      failOnce(e);
    }
  }

  private void deliver(AnswerDelta d) {
    if (d instanceof AnswerDelta.Content c) {
      partialResponse(c.text());
    } else if (d instanceof AnswerDelta.Reasoning r && !r.text().isEmpty()) {
      handler.onPartialThinking(new PartialThinking(r.text()), new PartialThinkingContext(this));
    } else if (d instanceof AnswerDelta.ToolCallStart s) {
      calls.put(s.index(), s);
    } else if (d instanceof AnswerDelta.ToolCallArguments a) {
      AnswerDelta.ToolCallStart s = calls.get(a.index());
      handler.onPartialToolCall(PartialToolCall.builder().index(a.index()).id(s.id()).name(s.name())
          .partialArguments(a.fragment()).build(), new PartialToolCallContext(this));
    }
  }

  private void partialResponse(String text) {
    if (!text.isEmpty()) {
      handler.onPartialResponse(new PartialResponse(text), new PartialResponseContext(this));
    }
  }

  @Override
  public void onError(Throwable t) {
    failOnce(ChatResponses.translate(t));
  }

  @Override
  public void onComplete() {
    handle.result().whenComplete(this::finish);
  }

  private void finish(GenerationResult r, Throwable t) {
    if (t != null) {
      failOnce(ChatResponses.translate(t));
      return;
    }
    ChatResponse response;
    try {
      response = ChatResponses.toChatResponse(r, modelName);
    } catch (RuntimeException e) {
      failOnce(e);
      return;
    }
    if (!done.compareAndSet(false, true)) {
      return;
    }
    try {
      List<ToolCall> toolCalls = r.toolCalls();
      for (int i = 0; i < toolCalls.size(); i++) {
        handler.onCompleteToolCall(new CompleteToolCall(i, ChatResponses.request(toolCalls.get(i))));
      }
      handler.onCompleteResponse(response);
    } catch (RuntimeException e) {
      reportQuietly(e);
    }
  }

  private void failOnce(Throwable e) {
    if (done.compareAndSet(false, true)) {
      reportQuietly(e);
    }
  }

  /** As LangChain4j's providers do: a throwing handler gets its error in onError; one thrown from there is logged. */
  private void reportQuietly(Throwable e) {
    try {
      handler.onError(e);
    } catch (RuntimeException again) {
      LOG.warn("StreamingChatResponseHandler.onError threw for request {}; ignored", handle.requestId(), again);
    }
  }

  /** Stops the request (its KV blocks are freed at the engine's next step); nothing more is delivered. */
  @Override
  public void cancel() {
    cancelled = true;
    done.set(true);
    Flow.Subscription s = subscription;
    if (s != null) {
      s.cancel();
    }
    handle.cancel();
  }

  @Override
  public boolean isCancelled() {
    return cancelled;
  }
}

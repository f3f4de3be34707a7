package io.autoglm.spring;

import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TokenEvent;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Flow;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Streams the choices of one request as SSE {@code data:} chunks, ending with {@code data: [DONE]}.
 *
 * <p>Each choice's text deltas go out as they come (callback threads, serialised here); a choice's finish chunk
 * follows its last delta. When the client goes away (a write fails, or the container reports an error, a timeout
 * or completion before the end), every choice is cancelled, which frees its KV blocks at the engine's next step.
 * Invariants: nothing is written after {@code [DONE]}, an error chunk, or an abort.
 */
final class SseRelay {
  private final ServerResponse.SseBuilder sse;
  private final OpenAiResponses format;
  private final List<GenerationHandle> handles;
  private final String echo;
  private final GenerationResult[] results;
  private int finished;
  private volatile boolean ended; // written under this relay's lock
  private volatile boolean aborted;

  /** @param echo text sent before a completion's first delta (its prompt, when echo is asked for) */
  SseRelay(ServerResponse.SseBuilder sse, OpenAiResponses format, List<GenerationHandle> handles, String echo) {
    this.sse = sse;
    this.format = format;
    this.handles = List.copyOf(handles);
    this.echo = echo;
    this.results = new GenerationResult[handles.size()];
  }

  void start() {
    // Container callbacks only flag and cancel: they never wait on this relay's lock.
    sse.onTimeout(this::abort);
    sse.onError(t -> abort());
    sse.onComplete(() -> {
      if (!ended) {
        abort();
      }
    });
    synchronized (this) {
      for (int i = 0; i < handles.size(); i++) {
        if (format.chat()) {
          send(format.roleChunk(i));
        } else if (!echo.isEmpty()) {
          send(format.textChunk(i, echo));
        }
      }
    }
    for (int i = 0; i < handles.size(); i++) {
      handles.get(i).tokens().subscribe(new Choice(i));
    }
  }

  /** The client is gone, or the container gave up: cancel what still runs. Idempotent. */
  private void abort() {
    if (!aborted) {
      aborted = true;
      handles.forEach(GenerationHandle::cancel);
    }
  }

  private synchronized void text(int index, String text) {
    if (!text.isEmpty()) {
      send(format.textChunk(index, text));
    }
  }

  private synchronized void finish(int index, GenerationResult result, Throwable error) {
    if (ended || aborted) {
      return;
    }
    if (error != null) {
      ended = true;
      Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
          ? error.getCause() : error;
      send(OpenAiException.from(cause).body());
      handles.forEach(GenerationHandle::cancel);
      complete();
      return;
    }
    results[index] = result;
    send(format.finishChunk(index, result.finishReason()));
    if (++finished == handles.size()) {
      ended = true;
      if (format.includeUsage()) {
        send(format.usageChunk(Arrays.asList(results)));
      }
      sendRaw("[DONE]");
      complete();
    }
  }

  private void send(Map<String, Object> body) {
    sendRaw(Json.string(body));
  }

  private void sendRaw(String data) {
    if (aborted) {
      return;
    }
    try {
      sse.data(" " + data); // "data: {...}", byte for byte what OpenAI sends (SSE drops the one leading space)
    } catch (IOException | RuntimeException e) { // the client went away mid-stream
      abort();
      complete();
    }
  }

  private void complete() {
    try {
      sse.complete();
    } catch (RuntimeException e) {
      // already completed by the container
    }
  }

  /** Relays one choice's token events, then its result. */
  private final class Choice implements Flow.Subscriber<TokenEvent> {
    private final int index;

    Choice(int index) {
      this.index = index;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(TokenEvent event) {
      text(index, event.text());
    }

    @Override
    public void onError(Throwable t) {
      finish(index, null, t);
    }

    @Override
    public void onComplete() {
      handles.get(index).result().whenComplete((r, e) -> finish(index, r, e));
    }
  }
}

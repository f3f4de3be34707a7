package io.autoglm.spring;

import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TokenEvent;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Streams the choices of one request as SSE {@code data:} chunks, ending with {@code data: [DONE]} or an error chunk.
 *
 * <p>Each choice's deltas (its text, or the content, reasoning and tool-call pieces of a parsed answer, see
 * {@link OpenAiResponses#eventChunks}) go out as they come (callback threads, serialised by {@code lock}); a choice's finish
 * chunk follows its last delta. The stream ends in exactly one of these ways, whichever comes first, and each one
 * completes the HTTP exchange, so the connection never outlives the stream:
 * <ul>
 *   <li>every choice finished: usage (when asked for), then {@code [DONE]};
 *   <li>a choice failed in the engine: an error chunk (500 {@code server_error}); the other choices are cancelled;
 *   <li>the client hung up (a write failed, or {@link DisconnectWatch} noticed): every choice is cancelled, which
 *       frees its KV blocks at the engine's next step;
 *   <li>the container timed the exchange out: an error chunk ({@code timeout}), every choice cancelled;
 *   <li>the container ended the exchange itself (an I/O error it saw, completion): every choice cancelled.
 * </ul>
 * Invariants: nothing is written after the end; the end runs once; whoever lets go of the lock calls
 * {@link #closeOutIfEnded()} next, so an end that found the lock taken is finished by its holder. The disconnect
 * watch never waits for {@code lock}; a container callback waits (at most {@value #CONTAINER_WAIT_SECONDS} s) for a
 * write in flight, since the container recycles the response when the callback returns.
 */
final class SseRelay {
  private static final Logger LOG = LoggerFactory.getLogger(SseRelay.class);

  /**
   * How the stream ends: what ended it (for the log), what is written last, and whether the relay completes the
   * exchange itself.
   */
  private record Ending(String cause, List<String> lastData, boolean completes, boolean cancels) {
    static final Ending WRITE_FAILED = new Ending("client gone (a write failed)", List.of(), true, true);
    static final Ending WATCH_SAW_HANG_UP = new Ending("client gone (disconnect watch)", List.of(), true, true);
    static final Ending CONTAINER_ERROR = new Ending("container error", List.of(), false, true);
    static final Ending CONTAINER_COMPLETED = new Ending("container completed", List.of(), false, true);

    static Ending error(String cause, OpenAiException e) {
      return new Ending(cause, List.of(Json.string(e.body())), true, true);
    }
  }

  private final HttpServletRequest request;
  private final OpenAiResponses format;
  private final List<GenerationHandle> handles;
  private final String echo;
  private final int clientPort; // for the log
  private final GenerationResult[] results;
  private final OpenAiLogprobs.Pending[] pendingLogprobs; // per choice; null entries when none were asked for
  private static final long CONTAINER_WAIT_SECONDS = 5;
  private final ReentrantLock lock = new ReentrantLock();
  private final AtomicReference<Ending> ending = new AtomicReference<>();
  private ServerResponse.SseBuilder sse; // guarded by lock once set
  private volatile DisconnectWatch watch;
  private int finished; // guarded by lock
  private boolean closedOut; // guarded by lock: the end was written and the exchange completed
  private boolean writeFailed; // guarded by lock

  /** @param echo text sent before a completion's first delta (its prompt, when echo is asked for) */
  SseRelay(HttpServletRequest request, OpenAiResponses format, List<GenerationHandle> handles, String echo) {
    this.request = request;
    this.format = format;
    this.handles = List.copyOf(handles);
    this.echo = echo;
    this.clientPort = request.getRemotePort();
    this.results = new GenerationResult[handles.size()];
    this.pendingLogprobs = new OpenAiLogprobs.Pending[handles.size()];
    for (int i = 0; i < pendingLogprobs.length; i++) {
      pendingLogprobs[i] = format.pendingLogprobs(echo);
    }
  }

  /** Watches the client while the stream runs; call from the handler, before the response goes async. */
  void watch(DisconnectWatcher watcher) {
    watch = DisconnectWatch.start(request, watcher, this::clientGone);
  }

  /** Writes the first chunks and subscribes to every choice; runs once the SSE response has started. */
  void start(ServerResponse.SseBuilder builder) {
    this.sse = builder;
    builder.onTimeout(() -> endForContainer(Ending.error("container timeout", OpenAiException.timedOut())));
    builder.onError(t -> {
      LOG.debug("{}: the container reports an error", format.id(), t);
      endForContainer(Ending.CONTAINER_ERROR);
    });
    builder.onComplete(() -> endForContainer(Ending.CONTAINER_COMPLETED));
    write(() -> {
      for (int i = 0; i < handles.size(); i++) {
        if (format.chat()) {
          send(format.roleChunk(i));
        } else if (!echo.isEmpty()) {
          send(format.textChunk(i, echo));
        }
      }
    });
    for (int i = 0; i < handles.size(); i++) {
      handles.get(i).tokens().subscribe(new Choice(i));
    }
  }

  private void clientGone() {
    end(Ending.WATCH_SAW_HANG_UP);
  }

  private void event(int index, TokenEvent event) {
    List<Map<String, Object>> chunks = format.eventChunks(index, event, pendingLogprobs[index]);
    if (!chunks.isEmpty()) {
      write(() -> chunks.forEach(this::send));
    }
  }

  private void finish(int index, GenerationResult result) {
    if (OpenAiResponses.failed(result)) {
      end(Ending.error("choice " + index + " failed", OpenAiException.choiceFailed(index, result)));
      return;
    }
    boolean all = false;
    lock.lock();
    try {
      if (ending.get() == null) {
        results[index] = result;
        send(format.finishChunk(index, result.finishReason(), pendingLogprobs[index]));
        all = ++finished == handles.size();
      }
    } finally {
      lock.unlock();
    }
    if (all) {
      List<String> last = format.includeUsage()
          ? List.of(Json.string(format.usageChunk(Arrays.asList(results))), "[DONE]") : List.of("[DONE]");
      end(new Ending("every choice finished", last, true, false));
    } else {
      closeOutIfEnded();
    }
  }

  private void fail(Throwable error) {
    end(Ending.error("engine failure", OpenAiException.engineFailure(error)));
  }

  /** Runs {@code writes} under the lock unless the stream has ended; then finishes an end that came meanwhile. */
  private void write(Runnable writes) {
    lock.lock();
    try {
      if (ending.get() == null) {
        writes.run();
      }
    } finally {
      lock.unlock();
    }
    closeOutIfEnded();
  }

  /** The first end wins; a later one only helps close out the first (it may hold the lock the first could not get). */
  /**
   * An end the container reports. The container recycles the request and response once its callback returns, so
   * the callback first lets a write in flight on another thread finish (bounded, so a write stuck on a dead socket
   * cannot hold the container's thread for long): no relay thread may touch a response that already serves the
   * next request.
   */
  private void endForContainer(Ending how) {
    end(how);
    try {
      if (lock.tryLock(CONTAINER_WAIT_SECONDS, TimeUnit.SECONDS)) {
        lock.unlock();
      } else {
        LOG.warn("{}: a write was still in flight {} s after the container ended the exchange", format.id(),
            CONTAINER_WAIT_SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeOutIfEnded();
  }

  private void end(Ending how) {
    if (ending.compareAndSet(null, how)) {
      LOG.debug("{} (client port {}) ends: {} (on {})", format.id(), clientPort, how.cause(),
          Thread.currentThread().getName());
      if (watch != null) {
        watch.stop();
      }
      if (how.cancels()) {
        handles.forEach(GenerationHandle::cancel);
      }
    }
    closeOutIfEnded();
  }

  /** Writes the end and completes the exchange, once, if the lock is free; else its holder does it after. */
  private void closeOutIfEnded() {
    Ending how = ending.get();
    if (how == null || !lock.tryLock()) {
      return;
    }
    try {
      if (closedOut || sse == null) {
        return;
      }
      closedOut = true;
      how.lastData().forEach(this::sendRaw);
      if (how.completes()) {
        completeExchange();
      }
    } finally {
      lock.unlock();
    }
  }

  private void send(Map<String, Object> body) {
    sendRaw(Json.string(body));
  }

  private void sendRaw(String data) {
    if (writeFailed) {
      return;
    }
    try {
      sse.data(" " + data); // "data: {...}", byte for byte what OpenAI sends (SSE drops the one leading space)
    } catch (IOException | RuntimeException e) { // the client went away mid-stream
      writeFailed = true;
      LOG.debug("{}: write failed", format.id(), e);
      end(Ending.WRITE_FAILED);
    }
  }

  /**
   * Completes the exchange. After a failed write Spring's SSE builder ignores {@code complete()} (it leaves the end
   * to the container's error handling), so then the async context is completed directly: the connection closes
   * whether or not the container noticed the failure.
   */
  private void completeExchange() {
    if (!writeFailed) {
      try {
        sse.complete();
        return;
      } catch (RuntimeException e) {
        // fall through: complete the servlet exchange itself
      }
    }
    try {
      if (request.isAsyncStarted()) {
        request.getAsyncContext().complete();
      }
    } catch (IllegalStateException e) {
      // the container completed it meanwhile
    }
  }

  /** Relays one choice's token events, then its result; never throws into the engine's publisher. */
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
      guarded(() -> event(index, event));
    }

    @Override
    public void onError(Throwable t) {
      guarded(() -> fail(t));
    }

    @Override
    public void onComplete() {
      handles.get(index).result().whenComplete((r, e) -> guarded(() -> {
        if (e != null) {
          fail(e);
        } else {
          finish(index, r);
        }
      }));
    }

    private void guarded(Runnable action) {
      try {
        action.run();
      } catch (RuntimeException e) {
        end(Ending.error("relay failure", OpenAiException.internal(e)));
      }
    }
  }
}

package io.autoglm;

import io.autoglm.GenerationResult.Usage;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Generation handles driven by a test instead of the engine, for the starter's relay tests: tokens, results and
 * failures arrive exactly as the engine's listener delivers them (through the handle's publisher and future).
 * Lives in core's package for the package-private handle API; test code only.
 */
public final class TestHandles {
  private TestHandles() {}

  /** A handle delivering on {@code executor}; {@code cancels} counts {@link GenerationHandle#cancel()} calls. */
  public static GenerationHandle handle(String id, Executor executor, AtomicInteger cancels) {
    GenerationHandle h = new GenerationHandle(id, executor);
    h.onCancel(cancels::incrementAndGet);
    return h;
  }

  public static void token(GenerationHandle h, int index, String text) {
    h.publisher().offer(new TokenEvent(index, 1, text));
  }

  /** Delivers one event as the engine's listener does (a parsed request's events carry deltas). */
  public static void event(GenerationHandle h, TokenEvent event) {
    h.publisher().offer(event);
  }

  /** Ends the request with this result, as the engine does: the result, then the end of the token stream. */
  public static void finish(GenerationHandle h, GenerationResult result) {
    h.future().complete(result);
    h.publisher().complete();
  }

  /** Ends the request as the engine does: the result, then the end of the token stream. */
  public static void finish(GenerationHandle h, FinishReason reason, int completionTokens) {
    h.future().complete(new GenerationResult(h.requestId(), List.of(), "", reason,
        new Usage(3, completionTokens, 0)));
    h.publisher().complete();
  }

  /** Ends the request as failed alone (finish reason ERROR), as the engine does when its own handling threw. */
  public static void failAlone(GenerationHandle h, String error) {
    h.future().complete(new GenerationResult(h.requestId(), List.of(), "", FinishReason.ERROR,
        new Usage(3, 0, 0), java.util.Optional.of(error)));
    h.publisher().complete();
  }

  public static void fail(GenerationHandle h, Throwable error) {
    h.future().completeExceptionally(error);
    h.publisher().fail(error);
  }
}

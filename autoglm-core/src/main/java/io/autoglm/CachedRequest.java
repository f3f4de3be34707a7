package io.autoglm;

import io.autoglm.GenerationResult.Usage;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.RateLimiter;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.toolcall.ParsedAnswer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A deterministic request through the response cache: identical requests in flight share one generation, and
 * each caller gets its own handle whose events replay the shared result. Only the caller that generated is
 * charged the tokens; the others' usage counts the whole prompt as cached.
 */
final class CachedRequest {
  private final Requests requests;
  private final ResponseCache.Key key;
  private final int[] prompt;
  private final GenerationRequest request;
  private final String operation;
  private final RateLimiter.Permit permit;
  private final boolean textOutput;
  private final Optional<AnswerFormat> format;

  CachedRequest(Requests requests, ResponseCache.Key key, int[] prompt, GenerationRequest request, String operation,
      RateLimiter.Permit permit, boolean textOutput, Optional<AnswerFormat> format) {
    this.requests = requests;
    this.key = key;
    this.prompt = prompt;
    this.request = request;
    this.operation = operation;
    this.permit = permit;
    this.textOutput = textOutput;
    this.format = format;
  }

  GenerationHandle start() {
    String id = "req-" + Requests.REQUEST_IDS.incrementAndGet();
    GenerationHandle outer = new GenerationHandle(id, requests.callbacks());
    boolean[] generated = {false};
    CompletableFuture<GenerationResult> shared = requests.hooks().responseCache().getOrCompute(key, () -> {
      generated[0] = true;
      return requests.enqueue(prompt, request.sampling(), Optional.empty(), false, operation, textOutput, format)
          .result();
    });
    requests.metrics().onResponseCacheLookup(!generated[0]);
    outer.onCancel(() -> shared.cancel(false)); // stops this caller's wait; the shared generation goes on
    boolean mine = generated[0];
    shared.whenComplete((r, e) -> {
      Requests.release(permit, r, mine);
      if (r != null) {
        replay(outer, id, r, mine);
      } else {
        fail(outer, id, e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
      }
    });
    return outer;
  }

  /** Completes this caller's handle from the shared result: its tokens as events, then the result. */
  private static void replay(GenerationHandle outer, String id, GenerationResult r, boolean mine) {
    GenerationResult own = new GenerationResult(id, r.tokenIds(), r.text(), r.finishReason(),
        mine ? r.usage() : new Usage(r.usage().promptTokens(), r.usage().completionTokens(),
            r.usage().promptTokens()), r.error(), r.answer(), r.logprobs());
    List<AnswerDelta> deltas = own.answer().map(ParsedAnswer::asDeltas).orElse(List.of());
    for (int i = 0; i < own.tokenIds().size(); i++) {
      outer.publisher().offer(TokenEvent.of(i, own.tokenIds().get(i), i == 0 ? own.text() : "",
          i == 0 ? deltas : List.of(), own.logprobs().isEmpty() ? Optional.empty()
              : Optional.of(own.logprobs().get(i))));
    }
    if (own.tokenIds().isEmpty() && (!own.text().isEmpty() || !deltas.isEmpty())) {
      outer.publisher().offer(TokenEvent.textOnly(0, own.text(), deltas));
    }
    outer.publisher().complete();
    outer.future().complete(own);
  }

  private void fail(GenerationHandle outer, String id, Throwable cause) {
    if (cause instanceof CancellationException) {
      outer.future().complete(new GenerationResult(id, List.of(), "", FinishReason.CANCELLED,
          new Usage(prompt.length, 0, 0)));
      outer.publisher().complete();
    } else {
      outer.publisher().fail(cause);
      outer.future().completeExceptionally(cause);
    }
  }
}

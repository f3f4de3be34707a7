package io.autoglm;

import io.autoglm.GenerationResult.Usage;
import io.autoglm.sched.Sequence;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.toolcall.ParsedAnswer.AnswerDelta;
import io.autoglm.toolcall.ParsedAnswer;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;

/** Bridges the engine thread to a handle without ever blocking the engine: delivery runs on the callback pool. */
final class RequestListener implements Sequence.Listener {
  private final GenerationHandle handle;
  private final String operation;
  private final long acceptedNanos;
  private final Optional<TextStream> text;
  private final List<Integer> stopIds;
  private final List<GenerationResult.TokenLogprobs> logprobs = new java.util.ArrayList<>();
  private long firstTokenNanos;
  private long lastTokenNanos;
  private boolean admitted; // engine thread only

  private final EngineMetrics metrics;
  private final Executor callbacks;
  private final Map<String, List<float[]>> capturedLogits;

  /**
   * @param stopIds the ids that end the request (eos unless ignored, and the request's stop ids)
   * @param capturedLogits where a capturing request leaves its logits, by request id
   */
  RequestListener(GenerationHandle handle, String operation, Optional<TextStream> text, List<Integer> stopIds,
      EngineMetrics metrics, Executor callbacks, Map<String, List<float[]>> capturedLogits) {
    this.handle = handle;
    this.operation = operation;
    this.acceptedNanos = System.nanoTime();
    this.text = text;
    this.stopIds = List.copyOf(stopIds);
    this.metrics = metrics;
    this.callbacks = callbacks;
    this.capturedLogits = capturedLogits;
  }

  /** Tells the handle once, on the callback pool (its waiters may do anything). */
  @Override
  public void onAdmitted() {
    if (!admitted) {
      admitted = true;
      callbacks.execute(() -> handle.admittedFuture().complete(null));
    }
  }

  @Override
  public boolean onToken(int index, int tokenId) {
    return onToken(index, tokenId, Optional.empty());
  }

  @Override
  public boolean onToken(int index, int tokenId, Optional<GenerationResult.TokenLogprobs> tokenLogprobs) {
    tokenLogprobs.ifPresent(logprobs::add);
    long now = System.nanoTime();
    if (index == 0) {
      firstTokenNanos = now;
      metrics.onFirstToken(operation, firstTokenNanos - acceptedNanos);
      callbacks.execute(() -> handle.firstTokenFuture().complete(null));
    } else if (lastTokenNanos > 0) {
      metrics.onInterTokenLatency(operation, now - lastTokenNanos);
    }
    lastTokenNanos = now;
    String delta = text.isPresent() && !stopIds.contains(tokenId) ? text.get().add(tokenId) : "";
    handle.publisher().offer(TokenEvent.of(index, tokenId, delta,
        text.map(TextStream::takeDeltas).orElse(List.of()), tokenLogprobs));
    return text.isPresent() && text.get().stopped();
  }

  @Override
  public void onFinish(Sequence seq, FinishReason reason) {
    String fullText = "";
    Optional<ParsedAnswer> answer = Optional.empty();
    if (text.isPresent()) {
      String rest = text.get().finish();
      List<AnswerDelta> deltas = text.get().takeDeltas();
      if (!rest.isEmpty() || !deltas.isEmpty()) {
        handle.publisher().offer(TokenEvent.textOnly(seq.numOutputTokens(), rest, deltas));
      }
      fullText = text.get().text();
      answer = text.get().answer();
    }
    boolean called = answer.map(a -> !a.toolCalls().isEmpty()).orElse(false);
    complete(seq, reason == FinishReason.STOP && called ? FinishReason.TOOL_CALLS : reason, fullText, Optional.empty(),
        answer);
  }

  /** Ends the request with ERROR and what it had produced so far; its text is not finished (that may fail too). */
  @Override
  public void onFailedAlone(Sequence seq, Throwable cause) {
    complete(seq, FinishReason.ERROR, text.map(TextStream::text).orElse(""),
        Optional.of("request " + seq.id() + " failed: " + cause), Optional.empty());
  }

  private void complete(Sequence seq, FinishReason reason, String fullText, Optional<String> error,
      Optional<ParsedAnswer> answer) {
    List<Integer> out = seq.outputTokens();
    if ((reason == FinishReason.STOP || reason == FinishReason.TOOL_CALLS) && !out.isEmpty() && stopIds.contains(out.get(out.size() - 1))) {
      out = out.subList(0, out.size() - 1); // the stop token itself is not part of the output
    }
    List<GenerationResult.TokenLogprobs> lp = logprobs.size() >= out.size() ? logprobs.subList(0, out.size()) : List.of();
    GenerationResult result = new GenerationResult(seq.id(), out, fullText, reason,
        new Usage(seq.promptLength(), seq.numOutputTokens(), seq.cachedPromptTokens().orElse(0)), error, answer, lp);
    long end = lastTokenNanos > 0 ? lastTokenNanos : System.nanoTime();
    metrics.onRequestFinished(operation, result.usage(), reason, end - acceptedNanos,
        firstTokenNanos > 0 ? end - firstTokenNanos : 0);
    if (seq.captureLogits()) {
      capturedLogits.put(seq.id(), List.copyOf(seq.capturedLogits()));
    }
    callbacks.execute(() -> handle.future().complete(result));
    handle.publisher().complete();
  }

  @Override
  public void onError(Sequence seq, Throwable error) {
    metrics.onRequestFailed(operation, error.getClass().getSimpleName(), System.nanoTime() - acceptedNanos);
    callbacks.execute(() -> handle.future().completeExceptionally(error));
    handle.publisher().fail(error);
  }
}

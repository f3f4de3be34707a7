package io.autoglm.spring;

import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.micrometer.common.KeyValues;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Micrometer observations of one API request: {@value #REQUEST} (child of the HTTP server observation, so of its
 * span and trace) and, per choice, its phases {@value #QUEUE} (submitted to admitted into the running batch),
 * {@value #PREFILL} (admitted to first token) and {@value #DECODE} (first token to the end). Phases move only
 * forward: a signal that arrives late (the callback pool does not order them) closes the phases before it. A
 * response-cache hit has only a queue phase, ended by the answer.
 *
 * <p>It also writes the request's log lines (logger {@code io.autoglm.spring.requests}, DEBUG) with the request
 * thread's MDC, so the trace id a tracer put there is on the line logged when the request ends on another thread.
 */
final class RequestObservation {
  static final String REQUEST = "autoglm.request";
  static final String QUEUE = "autoglm.queue";
  static final String PREFILL = "autoglm.prefill";
  static final String DECODE = "autoglm.decode";
  private static final Logger LOG = LoggerFactory.getLogger("io.autoglm.spring.requests");

  private final ObservationRegistry registry;
  private final Observation request;
  private final Map<String, String> mdc;
  private final long startNanos = System.nanoTime();

  private RequestObservation(ObservationRegistry registry, Observation request) {
    this.registry = registry;
    this.request = request;
    this.mdc = MDC.getCopyOfContextMap();
  }

  /** Starts the request observation on the request thread (its parent: the observation current there). */
  static RequestObservation start(ObservationRegistry registry, String operation) {
    Observation o = Observation.createNotStarted(REQUEST, registry)
        .lowCardinalityKeyValue("gen_ai.operation.name", operation).start();
    return new RequestObservation(registry, o);
  }

  /** The request is parsed and its choices submitted: tag it and observe each choice's phases. */
  void submitted(String model, boolean stream, List<GenerationHandle> handles) {
    request.lowCardinalityKeyValue("gen_ai.request.model", model)
        .lowCardinalityKeyValue("autoglm.stream", Boolean.toString(stream))
        .highCardinalityKeyValue("autoglm.choices", Integer.toString(handles.size()));
    LOG.debug("submitted {} choice(s) to {} ({})", handles.size(), model, stream ? "stream" : "whole answer");
    handles.forEach(h -> new Phases(h).watch());
    CompletableFuture.allOf(handles.stream().map(GenerationHandle::result).toArray(CompletableFuture[]::new))
        .whenComplete((r, e) -> end(handles, e));
  }

  /** The request failed before its choices ran (a bad field, a rate limit, a full queue). */
  void failed(Throwable error) {
    request.error(error).stop();
  }

  private void end(List<GenerationHandle> handles, Throwable error) {
    if (error != null) {
      request.error(error);
    }
    request.stop();
    Map<String, String> previous = MDC.getCopyOfContextMap();
    try {
      if (mdc != null) {
        MDC.setContextMap(mdc);
      }
      LOG.debug("finished in {} ms: {}", (System.nanoTime() - startNanos) / 1_000_000, handles.stream()
          .map(h -> h.result().isCompletedExceptionally() ? "failed" : summary(h.result().join())).toList());
    } finally {
      if (previous != null) {
        MDC.setContextMap(previous);
      } else {
        MDC.clear();
      }
    }
  }

  private static String summary(GenerationResult r) {
    return r.requestId() + " " + r.finishReason().openAiName() + " " + r.usage().promptTokens() + "+"
        + r.usage().completionTokens() + " tokens";
  }

  /** One choice's phases: 0 queued, 1 prefill, 2 decode, 3 done. */
  private final class Phases {
    private final GenerationHandle handle;
    private int phase = -1; // guarded by this
    private Observation current; // guarded by this

    Phases(GenerationHandle handle) {
      this.handle = handle;
    }

    void watch() {
      advance(0);
      handle.admitted().thenRun(() -> advance(1));
      handle.firstToken().thenRun(() -> advance(2));
      handle.result().whenComplete((r, e) -> {
        synchronized (this) {
          if (current != null && r != null) {
            current.lowCardinalityKeyValue("gen_ai.response.finish_reasons", r.finishReason().openAiName())
                .highCardinalityKeyValues(KeyValues.of("gen_ai.usage.input_tokens",
                    Integer.toString(r.usage().promptTokens()), "gen_ai.usage.output_tokens",
                    Integer.toString(r.usage().completionTokens())));
          }
          if (current != null && e != null) {
            current.error(e);
          }
        }
        advance(3);
      });
    }

    private synchronized void advance(int to) {
      while (phase < to) {
        if (current != null) {
          current.stop();
          current = null;
        }
        phase++;
        String name = phase == 0 ? QUEUE : phase == 1 ? PREFILL : phase == 2 ? DECODE : null;
        if (name != null && (phase == to || to < 3)) { // the end skips phases never started (a cache hit)
          // In the request's scope: a tracer prefers the thread's current span (here, maybe the HTTP one) as parent.
          try (Observation.Scope scope = request.openScope()) {
            current = Observation.createNotStarted(name, registry).parentObservation(request)
                .highCardinalityKeyValue("autoglm.request_id", handle.requestId()).start();
          }
        }
      }
    }
  }
}

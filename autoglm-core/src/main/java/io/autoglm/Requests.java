package io.autoglm;

import io.autoglm.grammar.GrammarMatcher;
import io.autoglm.internal.RequestLogging;
import io.autoglm.sched.Engine;
import io.autoglm.sched.Sequence;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.autoglm.tokenizer.GlmTokenizer;
import io.autoglm.tokenizer.StopStringMatcher;
import io.autoglm.answer.AnswerFormat;
import io.autoglm.answer.AnswerParser;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The way from a request to the engine: checks, the rate limiter's permit (always released: with the tokens used,
 * or on failure), the response cache, and the engine's {@link Sequence}. Any thread may call it.
 */
final class Requests {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLM.class);
  static final AtomicLong REQUEST_IDS = new AtomicLong();

  /** The SPIs a request passes through, and how requests are named and logged. */
  record Hooks(String modelId, ResponseCache responseCache, RateLimiter rateLimiter, EngineMetrics metrics,
      boolean logPrompts) {}

  private final AutoGLM glm;
  private final Engine engine;
  private final Hooks hooks;
  private final ExecutorService callbacks;
  private final int vocabSize;
  private final List<Integer> eosTokenIds;
  private final Grammars grammars;
  private final Map<String, List<float[]>> capturedLogits = new ConcurrentHashMap<>();

  Requests(AutoGLM glm, Engine engine, Hooks hooks, ExecutorService callbacks, int vocabSize,
      List<Integer> eosTokenIds, Grammars grammars) {
    this.glm = glm;
    this.engine = engine;
    this.hooks = hooks;
    this.callbacks = callbacks;
    this.vocabSize = vocabSize;
    this.eosTokenIds = List.copyOf(eosTokenIds);
    this.grammars = grammars;
  }

  Hooks hooks() {
    return hooks;
  }

  Grammars grammars() {
    return grammars;
  }

  GenerationHandle submit(GenerationRequest request) {
    return submit(checkPrompt(request.promptIds()), request, "text_completion", Optional.empty(), Optional.empty());
  }

  GenerationHandle submit(TextRequest request, GlmTokenizer tok) {
    TextPrompts.Encoded e = TextPrompts.encode(request, tok, engine.maxModelLen());
    GenerationRequest g = new GenerationRequest(e.ids(), request.sampling(), request.timeout(), request.user());
    return submit(checkPrompt(e.ids()), g, e.operation(), Optional.of(e.cacheText()), e.format());
  }

  private GenerationHandle submit(int[] prompt, GenerationRequest request, String operation,
      Optional<String> cacheText, Optional<AnswerFormat> format) {
    SamplingParams params = request.sampling();
    params.responseFormat().ifPresent(f -> grammars.grammar(f, format)); // fails here, before compute
    for (int id : params.logitBias().keySet()) {
      if (id >= vocabSize) {
        throw new IllegalArgumentException(String.format("logitBias names token id %d; expected an id in [0, %d)",
            id, vocabSize));
      }
    }
    RateLimiter.Permit permit;
    try {
      permit = hooks.rateLimiter().acquire(request.user(), prompt.length + (long) params.maxNewTokens());
    } catch (RateLimitExceededException e) {
      hooks.metrics().onRateLimited(e.limit());
      throw e;
    }
    try {
      Optional<ResponseCache.Key> key = request.timeout().isPresent() ? Optional.empty()
          : cacheText.isPresent() ? ResponseCache.Key.ofText(hooks.modelId(), cacheText.get(), params)
          : ResponseCache.Key.ofTokens(hooks.modelId(), request.promptIds(), params);
      boolean caching = key.isPresent() && hooks.responseCache() != ResponseCache.none();
      GenerationHandle handle = caching
          ? new CachedRequest(this, key.get(), prompt, request, operation, permit, cacheText.isPresent(), format)
              .start()
          : enqueue(prompt, params, request.timeout(), false, operation, cacheText.isPresent(), format);
      if (!caching) {
        handle.result().whenComplete((r, e) -> release(permit, r, true));
      }
      return handle;
    } catch (RuntimeException e) {
      permit.release(0);
      throw e;
    }
  }

  /** Gives a permit back: with the tokens this caller's request generated, or unused when it failed. */
  static void release(RateLimiter.Permit permit, GenerationResult r, boolean generated) {
    if (r != null) {
      permit.release(generated ? r.usage().totalTokens() : 0);
    } else {
      permit.close();
    }
  }

  int[] checkPrompt(List<Integer> promptIds) {
    if (promptIds.isEmpty()) {
      throw new IllegalArgumentException("prompt must hold at least one token id");
    }
    int[] ids = new int[promptIds.size()];
    for (int i = 0; i < ids.length; i++) {
      Integer id = promptIds.get(i);
      if (id == null || id < 0 || id >= vocabSize) {
        throw new IllegalArgumentException(String.format(
            "prompt token %d is %s; expected an id in [0, %d)", i, id, vocabSize));
      }
      ids[i] = id;
    }
    if (ids.length >= engine.maxModelLen()) {
      throw new ContextLengthExceededException(String.format(
          "prompt has %d tokens; the context holds %d, so at most %d fit with one generated token",
          ids.length, engine.maxModelLen(), engine.maxModelLen() - 1), ids.length, engine.maxModelLen());
    }
    return ids;
  }

  /** The ids that end a request: the eos ids unless ignored, and its own stop ids. */
  private List<Integer> stopIds(SamplingParams params) {
    List<Integer> ids = new ArrayList<>(params.stopTokenIds());
    if (!params.ignoreEos()) {
      ids.addAll(eosTokenIds);
    }
    return ids;
  }

  /** Queues a checked prompt. {@code captureLogits} keeps every position's logits (conformance checks). */
  GenerationHandle enqueue(int[] prompt, SamplingParams params, Optional<Duration> timeout, boolean captureLogits,
      String operation, boolean textOutput, Optional<AnswerFormat> format) {
    String id = "req-" + REQUEST_IDS.incrementAndGet();
    GenerationHandle handle = new GenerationHandle(id, callbacks);
    long deadline = timeout.map(t -> System.nanoTime() + t.toNanos()).orElse(Long.MAX_VALUE);
    long seed = params.seed().orElseGet(() -> ThreadLocalRandom.current().nextLong());
    Optional<TextStream> stream = textOutput ? Optional.of(new TextStream(glm.glmTokenizer().newDetokenizer(true),
        new StopStringMatcher(params.stop()), format.map(AnswerParser::new))) : Optional.empty();
    Optional<GrammarMatcher> matcher = params.responseFormat().map(f -> grammars.matcher(f, format));
    Sequence seq = new Sequence(id, prompt, params, seed, deadline, captureLogits,
        new RequestListener(handle, operation, stream, stopIds(params), hooks.metrics(), callbacks, capturedLogits),
        matcher);
    handle.onCancel(() -> {
      if (!seq.cancelRequested()) {
        seq.requestCancel();
        engine.wake();
      }
    });
    if (LOG.isDebugEnabled()) {
      try (var mdc = RequestLogging.requestId(id)) {
        LOG.debug("queued: {} prompt tokens, {}; prompt {}", prompt.length, params,
            RequestLogging.prompt(Arrays.toString(prompt), hooks.logPrompts()));
      }
    }
    if (!engine.submit(seq)) {
      throw new OverloadedException(String.format(
          "request %s rejected: %d requests are already waiting (maxWaitingRequests)", id, engine.numWaiting()));
    }
    return handle;
  }

  /** Queues a prompt that keeps every position's logits, bypassing limiter and cache (conformance checks). */
  GenerationHandle enqueueCapturing(int[] prompt, SamplingParams params) {
    return enqueue(prompt, params, Optional.empty(), true, "text_completion", false, Optional.empty());
  }

  /** The logits a capturing request kept: one row per computed position, in position order. Removes them. */
  List<float[]> takeCapturedLogits(String requestId) {
    List<float[]> rows = capturedLogits.remove(requestId);
    if (rows == null) {
      throw new IllegalStateException("request " + requestId + " captured no logits");
    }
    return rows;
  }

  ExecutorService callbacks() {
    return callbacks;
  }

  EngineMetrics metrics() {
    return hooks.metrics();
  }
}

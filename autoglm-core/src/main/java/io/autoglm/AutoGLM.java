package io.autoglm;

import io.autoglm.toolcall.AnswerDelta;
import io.autoglm.toolcall.AnswerFormat;
import io.autoglm.toolcall.AnswerParser;
import io.autoglm.toolcall.OutputParsing;
import io.autoglm.toolcall.ParsedAnswer;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.KvLayout;
import io.autoglm.grammar.GrammarCache;
import io.autoglm.grammar.GrammarMatcher;
import io.autoglm.grammar.JsonGrammar;
import io.autoglm.grammar.TokenVocabulary;
import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.sched.Engine;
import io.autoglm.sched.Sequence;
import io.autoglm.spi.CacheKey;
import io.autoglm.tokenizer.ChatPrompt;
import io.autoglm.tokenizer.EncodedPrompt;
import io.autoglm.tokenizer.GlmTokenizer;
import io.autoglm.tokenizer.StopStringMatcher;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimitExceededException;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.ResponseCacheStats;
import io.autoglm.internal.RequestLogging;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.CompletableFuture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A GLM model loaded for inference: one engine thread runs continuous batching over a paged KV cache; any thread
 * may submit requests.
 *
 * <pre>{@code
 * try (AutoGLM glm = AutoGLM.builder().modelPath(Path.of("glm-4-9b-chat-hf")).build()) {
 *   GenerationResult r = glm.generate(List.of(151331, 151333, 9703), SamplingParams.greedy(32));
 * }
 * }</pre>
 */
public final class AutoGLM implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLM.class);
  private static final AtomicLong REQUEST_IDS = new AtomicLong();

  private final Path modelPath;
  private final ModelConfig config;
  private final GenerationDefaults generationDefaults;
  private final String backendName;
  private final Optional<ComputeBackend> backend; // the single-device backend; a sharded model owns its own
  private final Engine engine;
  private final KvLayout kvLayout;
  private final ExecutorService callbacks;
  private final Hooks hooks;
  private final Optional<GlmTokenizer> tokenizer;

  /** The SPIs a request passes through, and how requests are named and logged. */
  record Hooks(String modelId, ResponseCache responseCache, RateLimiter rateLimiter, EngineMetrics metrics,
      boolean logPrompts) {}

  AutoGLM(Path modelPath, ModelConfig config, GenerationDefaults defaults, String backendName,
      Optional<ComputeBackend> backend,
      Engine engine, KvLayout kvLayout, ExecutorService callbacks, Hooks hooks, Optional<GlmTokenizer> tokenizer) {
    this.tokenizer = tokenizer;
    this.modelPath = modelPath;
    this.config = config;
    this.generationDefaults = defaults;
    this.backendName = backendName;
    this.backend = backend;
    this.engine = engine;
    this.kvLayout = kvLayout;
    this.callbacks = callbacks;
    this.hooks = hooks;
  }

  /** The id requests and metrics name this model by (default: the checkpoint folder's name). */
  public String modelId() {
    return hooks.modelId();
  }

  /** The response cache's statistics, when one is configured. */
  public Optional<ResponseCacheStats> responseCacheStats() {
    return hooks.responseCache().stats();
  }

  public static Builder builder() {
    return new Builder();
  }

  public ModelConfig config() {
    return config;
  }

  public Path modelPath() {
    return modelPath;
  }

  /** The eos ids that end generation (generation_config.json and config.json together). */
  public List<Integer> eosTokenIds() {
    return generationDefaults.eosTokenIds();
  }

  public String backendName() {
    return backendName;
  }

  public EngineStats stats() {
    return new EngineStats(engine.numRunning(), engine.numWaiting(), engine.kvUsage(), kvLayout.numBlocks(),
        kvLayout.blockSizeTokens(), engine.maxModelLen(), engine.steps(), engine.preemptions(), engine.loopNanos(),
        engine.forwardNanos());
  }

  /** Generates from token ids and waits for the result. Interrupting the caller cancels the request. */
  public GenerationResult generate(List<Integer> promptIds, SamplingParams params) {
    return await(submit(GenerationRequest.of(promptIds, params)));
  }

  /** Starts a request; see {@link GenerationHandle}. */
  public GenerationHandle submit(List<Integer> promptIds, SamplingParams params) {
    return submit(GenerationRequest.of(promptIds, params));
  }

  /** Starts a request that finishes with {@link FinishReason#TIMEOUT} if it runs past {@code timeout}. */
  public GenerationHandle submit(List<Integer> promptIds, SamplingParams params, Duration timeout) {
    return submit(GenerationRequest.of(promptIds, params).withTimeout(timeout));
  }

  /**
   * Starts a request: checks it, applies the rate limiter, answers from the response cache when the request is
   * deterministic and a cache is configured, else queues it for the engine.
   *
   * @throws IllegalArgumentException for a bad prompt, before any compute
   * @throws io.autoglm.spi.RateLimitExceededException when the caller is over a limit
   * @throws OverloadedException when the waiting queue is full
   */
  public GenerationHandle submit(GenerationRequest request) {
    return submit(checkPrompt(request.promptIds()), request, "text_completion", Optional.empty());
  }

  GenerationHandle submit(int[] prompt, GenerationRequest request, String operation, Optional<String> cacheText) {
    return submit(prompt, request, operation, cacheText, Optional.empty());
  }

  private GenerationHandle submit(int[] prompt, GenerationRequest request, String operation,
      Optional<String> cacheText, Optional<AnswerFormat> format) {
    SamplingParams params = request.sampling();
    params.responseFormat().ifPresent(f -> grammar(f, format)); // a schema the grammar cannot enforce fails here, before compute
    for (int id : params.logitBias().keySet()) {
      if (id >= config.vocabSize()) {
        throw new IllegalArgumentException(String.format("logitBias names token id %d; expected an id in [0, %d)",
            id, config.vocabSize()));
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
      Optional<CacheKey> key = request.timeout().isPresent() ? Optional.empty()
          : cacheText.isPresent() ? CacheKey.ofText(hooks.modelId(), cacheText.get(), params)
          : CacheKey.ofTokens(hooks.modelId(), request.promptIds(), params);
      GenerationHandle handle = key.isPresent() && hooks.responseCache() != ResponseCache.none()
          ? cached(key.get(), prompt, request, operation, permit, cacheText, format)
          : enqueue(prompt, params, request.timeout(), false, operation, cacheText.isPresent(), format);
      if (key.isEmpty() || hooks.responseCache() == ResponseCache.none()) {
        handle.result().whenComplete((r, e) -> release(permit, r, true));
      }
      return handle;
    } catch (RuntimeException e) {
      permit.release(0);
      throw e;
    }
  }

  private static void release(RateLimiter.Permit permit, GenerationResult r, boolean generated) {
    if (r != null) {
      permit.release(generated ? r.usage().totalTokens() : 0);
    } else {
      permit.close();
    }
  }

  /** A deterministic request through the response cache: identical requests in flight share one generation. */
  private GenerationHandle cached(CacheKey key, int[] prompt, GenerationRequest request, String operation,
      RateLimiter.Permit permit, Optional<String> cacheText, Optional<AnswerFormat> format) {
    String id = "req-" + REQUEST_IDS.incrementAndGet();
    GenerationHandle outer = new GenerationHandle(id, callbacks);
    boolean[] generated = {false};
    CompletableFuture<GenerationResult> shared = hooks.responseCache().getOrCompute(key, () -> {
      generated[0] = true;
      return enqueue(prompt, request.sampling(), Optional.empty(), false, operation, cacheText.isPresent(), format)
          .result();
    });
    hooks.metrics().onResponseCacheLookup(!generated[0]);
    outer.onCancel(() -> shared.cancel(false)); // stops this caller's wait; the shared generation goes on
    boolean mine = generated[0];
    shared.whenComplete((r, e) -> {
      release(permit, r, mine);
      if (r != null) {
        GenerationResult own = new GenerationResult(id, r.tokenIds(), r.text(), r.finishReason(),
            mine ? r.usage() : new Usage(r.usage().promptTokens(), r.usage().completionTokens(),
                r.usage().promptTokens()), r.error(), r.answer(), r.logprobs());
        List<AnswerDelta> deltas = own.answer().map(ParsedAnswer::asDeltas).orElse(List.of());
        for (int i = 0; i < own.tokenIds().size(); i++) {
          outer.publisher().offer(new TokenEvent(i, own.tokenIds().get(i), i == 0 ? own.text() : "",
              i == 0 ? deltas : List.of(), own.logprobs().isEmpty() ? Optional.empty()
                  : Optional.of(own.logprobs().get(i))));
        }
        if (own.tokenIds().isEmpty() && (!own.text().isEmpty() || !deltas.isEmpty())) {
          outer.publisher().offer(new TokenEvent(0, -1, own.text(), deltas));
        }
        outer.publisher().complete();
        outer.future().complete(own);
      } else {
        Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
            ? e.getCause() : e;
        if (cause instanceof CancellationException) {
          outer.future().complete(new GenerationResult(id, List.of(), "", FinishReason.CANCELLED,
              new Usage(prompt.length, 0, 0)));
          outer.publisher().complete();
        } else {
          outer.publisher().fail(cause);
          outer.future().completeExceptionally(cause);
        }
      }
    });
    return outer;
  }

  /** Completes a text prompt and waits; see {@link TextRequest}. */
  public GenerationResult complete(String prompt, SamplingParams params) {
    return await(submit(TextRequest.completion(prompt, params)));
  }

  /** Answers a conversation rendered with the model's chat template, and waits. */
  public GenerationResult chat(ChatPrompt chat, SamplingParams params) {
    return await(submit(TextRequest.chat(chat, params)));
  }

  /**
   * Starts a text request. Its events carry text deltas (never broken UTF-8, never part of a stop string) and its
   * result the full text.
   *
   * @throws IllegalArgumentException for bad messages or a prompt longer than the context, before any compute
   * @throws IllegalStateException when the model folder has no tokenizer
   */
  public GenerationHandle submit(TextRequest request) {
    GlmTokenizer tok = tokenizer();
    checkTextBytes(request, tok);
    int[] ids;
    String rendered;
    String operation;
    if (request.chat().isPresent()) {
      EncodedPrompt e = tok.encodeChat(request.chat().get());
      ids = e.ids();
      rendered = e.text();
      operation = "chat";
    } else {
      rendered = request.prompt().get();
      ids = tok.encode(rendered);
      operation = "text_completion";
    }
    List<Integer> idList = java.util.Arrays.stream(ids).boxed().toList();
    GenerationRequest g = new GenerationRequest(idList, request.sampling(), request.timeout(), request.user());
    Optional<AnswerFormat> format = Optional.empty();
    if (request.parsing() != OutputParsing.RAW) {
      ChatPrompt chat = request.chat().orElseThrow();
      format = Optional.of(AnswerFormat.detect(tok.chatTemplate().orElseThrow().source(), rendered, chat.tools(),
          request.parsing() == OutputParsing.REASONING_AND_TOOL_CALLS));
    }
    String key = operation + "\u0000" + rendered + (format.isPresent() ? "\u0000" + request.parsing() : "");
    return submit(checkPrompt(idList), g, operation, Optional.of(key), format);
  }

  /**
   * Refuses, before tokenizing, a text too long for the context whatever its tokens: no token covers more than
   * {@link GlmTokenizer#maxTokenBytes()} bytes, so a text of B UTF-8 bytes has at least B / maxTokenBytes tokens.
   * Chat prompts count their user messages' text only, which every template renders as given.
   */
  private void checkTextBytes(TextRequest request, GlmTokenizer tok) {
    long bytes = request.prompt().map(AutoGLM::utf8Bytes)
        .orElseGet(() -> request.chat().orElseThrow().messages().stream() // user text is rendered verbatim
            .filter(m -> m.role().equals("user")).mapToLong(m -> utf8Bytes(m.content().joined())).sum());
    long minTokens = bytes / Math.max(1, tok.maxTokenBytes());
    if (minTokens >= engine.maxModelLen()) {
      throw new ContextLengthExceededException(String.format(
          "prompt has %d bytes of text, so at least %d tokens; the context holds %d, so at most %d fit with one "
              + "generated token", bytes, minTokens, engine.maxModelLen(), engine.maxModelLen() - 1),
          minTokens, engine.maxModelLen());
    }
  }

  private static long utf8Bytes(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      n += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3; // a surrogate pair is 4 bytes
    }
    return n;
  }

  /** The model's tokenizer (loaded with the model when its folder has one). */
  public GlmTokenizer tokenizer() {
    return tokenizer.orElseThrow(() -> new IllegalStateException(
        "model folder " + modelPath + " has no tokenizer (tokenizer.json, or tokenizer.model with "
            + "tokenizer_config.json); text requests need one"));
  }

  /** Waits for a handle's result; interrupting the caller cancels the request. */
  static GenerationResult await(GenerationHandle handle) {
    try {
      return handle.result().get();
    } catch (InterruptedException e) {
      handle.cancel();
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while waiting for request " + handle.requestId());
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException("request " + handle.requestId() + " failed: " + e.getCause(), e.getCause());
    }
  }

  int[] checkPrompt(List<Integer> promptIds) {
    if (promptIds.isEmpty()) {
      throw new IllegalArgumentException("prompt must hold at least one token id");
    }
    int[] ids = new int[promptIds.size()];
    for (int i = 0; i < ids.length; i++) {
      Integer id = promptIds.get(i);
      if (id == null || id < 0 || id >= config.vocabSize()) {
        throw new IllegalArgumentException(String.format(
            "prompt token %d is %s; expected an id in [0, %d)", i, id, config.vocabSize()));
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
      ids.addAll(generationDefaults.eosTokenIds());
    }
    return ids;
  }

  /** Queues a checked prompt. {@code captureLogits} keeps every position's logits (conformance checks). */
  GenerationHandle enqueue(int[] prompt, SamplingParams params, Optional<Duration> timeout, boolean captureLogits) {
    return enqueue(prompt, params, timeout, captureLogits, "text_completion", false, Optional.empty());
  }

  GenerationHandle enqueue(int[] prompt, SamplingParams params, Optional<Duration> timeout, boolean captureLogits,
      String operation, boolean textOutput, Optional<AnswerFormat> format) {
    String id = "req-" + REQUEST_IDS.incrementAndGet();
    GenerationHandle handle = new GenerationHandle(id, callbacks);
    long deadline = timeout.map(t -> System.nanoTime() + t.toNanos()).orElse(Long.MAX_VALUE);
    long seed = params.seed().orElseGet(() -> ThreadLocalRandom.current().nextLong());
    Optional<TextStream> stream = textOutput ? Optional.of(new TextStream(
        tokenizer().newDetokenizer(true), new StopStringMatcher(params.stop()), format.map(AnswerParser::new)))
        : Optional.empty();
    Optional<GrammarMatcher> matcher = params.responseFormat().map(f -> grammar(f, format).matcher(vocabulary()));
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
            RequestLogging.prompt(java.util.Arrays.toString(prompt), hooks.logPrompts()));
      }
    }
    if (!engine.submit(seq)) {
      throw new OverloadedException(String.format(
          "request %s rejected: %d requests are already waiting (maxWaitingRequests)", id, engine.numWaiting()));
    }
    return handle;
  }

  /**
   * The compiled grammar of a response format, from the cache.
   *
   * @param answer how the chat answer is read; a forced tool call is written in its call syntax
   * @throws IllegalArgumentException for a schema keyword the grammar cannot enforce (the message names it), or a
   *     forced tool call where the answer's calls are not parsed or in a syntax without a call grammar
   * @throws IllegalStateException when the model folder has no tokenizer (masks need its vocabulary)
   */
  private JsonGrammar grammar(ResponseFormat format, Optional<AnswerFormat> answer) {
    tokenizer();
    return switch (format.type()) {
      case JSON_OBJECT -> grammars.anyObject();
      case JSON_SCHEMA -> grammars.schema(format.jsonSchema().orElseThrow());
      case TOOL_CALL -> toolCallGrammar(format, answer);
    };
  }

  private JsonGrammar toolCallGrammar(ResponseFormat format, Optional<AnswerFormat> answer) {
    AnswerFormat.Syntax syntax = answer.map(AnswerFormat::syntax).orElse(AnswerFormat.Syntax.NONE);
    if (syntax == AnswerFormat.Syntax.NONE) {
      throw new IllegalArgumentException("a forced tool call needs a chat request with tools whose calls are parsed "
          + "(TextRequest.withParsing(REASONING_AND_TOOL_CALLS)), got syntax " + syntax);
    }
    if (syntax == AnswerFormat.Syntax.GLM45_XML) {
      throw new IllegalArgumentException("a forced tool call (tool_choice required or a named function) is not "
          + "supported for GLM-4.5's XML call syntax yet; only GLM-4's NAME\\n{JSON} syntax is");
    }
    if (answer.get().startsInThinking()) {
      throw new IllegalArgumentException("a forced tool call cannot be enforced on an answer that starts inside a "
          + "<think> block");
    }
    return grammars.toolCallGlm4(format.tools(), format.toolName());
  }

  /** The tokenizer's vocabulary as grammars read it, built on the first constrained request (its token trie). */
  private synchronized TokenVocabulary vocabulary() {
    if (vocabulary == null) {
      vocabulary = TokenVocabulary.of(tokenizer(), generationDefaults.eosTokenIds());
    }
    return vocabulary;
  }

  /** Lookups of compiled grammars (structured output): hits, misses and cached grammars. */
  public GrammarCache.Stats grammarCacheStats() {
    return grammars.stats();
  }

  /**
   * Counters {@code autoglm.grammar.cache.hits} and {@code autoglm.grammar.cache.misses} (compiled-grammar lookups of
   * structured output), tagged {@code gen_ai.request.model}.
   */
  void bindGrammarMeters(MeterRegistry registry, String modelId) {
    io.micrometer.core.instrument.FunctionCounter.builder("autoglm.grammar.cache.hits", grammars,
        g -> g.stats().hits()).tag("gen_ai.request.model", modelId).register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("autoglm.grammar.cache.misses", grammars,
        g -> g.stats().misses()).tag("gen_ai.request.model", modelId).register(registry);
  }

  private final GrammarCache grammars = new GrammarCache(256);
  private TokenVocabulary vocabulary; // guarded by this

  private final Map<String, List<float[]>> capturedLogits = new java.util.concurrent.ConcurrentHashMap<>();

  /** The logits a capturing request kept: one row per computed position, in position order. Removes them. */
  List<float[]> takeCapturedLogits(String requestId) {
    List<float[]> rows = capturedLogits.remove(requestId);
    if (rows == null) {
      throw new IllegalStateException("request " + requestId + " captured no logits");
    }
    return rows;
  }

  /** Cancels requests still running, stops the engine thread and frees the model. */
  @Override
  public void close() {
    engine.close();
    backend.ifPresent(ComputeBackend::close);
    tokenizer.ifPresent(GlmTokenizer::close);
    callbacks.shutdown();
  }

  /**
   * Configures and loads a model. Sizes: KV blocks come from {@link #kvBlocks(int)} if set, else from the
   * backend's free memory × {@link #memoryFraction(double)}, else (CPU) from {@link #kvCacheBytes(long)}, default
   * 1 GiB, capped at what maxRunningSequences × maxModelLen can use.
   */
  public static final class Builder {
    Path modelPath;
    String backendName;
    int kvBlockSizeTokens = 16;
    int kvBlocks; // 0 = unset: sized from memory; kvBlocks(…) accepts only >= 2
    long kvCacheBytes = 1L << 30;
    double memoryFraction = 0.9;
    int maxRunningSequences = 256;
    int maxBatchTokens = 2048;
    int maxWaitingRequests = 4096;
    int maxModelLen;
    boolean prefixCaching = true;
    LoadProgress loadProgress = LoadProgress.none();
    final Map<String, String> backendProperties = new HashMap<>();
    List<Integer> devices = List.of();
    String modelId;
    ResponseCache responseCache;
    RateLimiter rateLimiter;
    EngineMetrics metrics;
    MeterRegistry meterRegistry;
    boolean logPrompts;
    Path tokenizerPath;
    int tensorParallel = 1;
    int pipelineParallel = 1;

    private Builder() {}

    /** A folder holding config.json and the safetensors weights. */
    public Builder modelPath(Path modelPath) {
      this.modelPath = modelPath;
      return this;
    }

    /** {@code cpu}, {@code cuda}, …; default: the available backend with the highest priority. */
    public Builder backend(String name) {
      this.backendName = name;
      return this;
    }

    public Builder kvBlockSizeTokens(int tokens) {
      this.kvBlockSizeTokens = tokens;
      return this;
    }

    /** KV cache blocks, at least 2 (block 0 is reserved); unset: sized from memory (see the class javadoc). */
    public Builder kvBlocks(int blocks) {
      if (blocks < 2) {
        throw new IllegalArgumentException("kvBlocks (" + blocks + ") must be >= 2 (block 0 is reserved); leave it "
            + "unset to size the cache from memory");
      }
      this.kvBlocks = blocks;
      return this;
    }

    public Builder kvCacheBytes(long bytes) {
      this.kvCacheBytes = bytes;
      return this;
    }

    public Builder memoryFraction(double fraction) {
      this.memoryFraction = fraction;
      return this;
    }

    public Builder maxRunningSequences(int n) {
      this.maxRunningSequences = n;
      return this;
    }

    public Builder maxBatchTokens(int n) {
      this.maxBatchTokens = n;
      return this;
    }

    public Builder maxWaitingRequests(int n) {
      this.maxWaitingRequests = n;
      return this;
    }

    /** Caps the context (prompt + output) below the model's max_position_embeddings. */
    public Builder maxModelLen(int tokens) {
      this.maxModelLen = tokens;
      return this;
    }

    public Builder prefixCaching(boolean enabled) {
      this.prefixCaching = enabled;
      return this;
    }

    public Builder loadProgress(LoadProgress progress) {
      this.loadProgress = progress;
      return this;
    }

    public Builder devices(List<Integer> devices) {
      this.devices = List.copyOf(devices);
      return this;
    }

    /** Where the tokenizer files are, when not in the model folder. */
    public Builder tokenizerPath(Path dir) {
      this.tokenizerPath = dir;
      return this;
    }

    /** The name requests, caches and metrics use for this model (default: the checkpoint folder's name). */
    public Builder modelId(String modelId) {
      this.modelId = modelId;
      return this;
    }

    /** Answers repeated deterministic requests without the model (default: none, or one found by ServiceLoader). */
    public Builder responseCache(ResponseCache cache) {
      this.responseCache = cache;
      return this;
    }

    /** Limits callers (default: unlimited, or one found by ServiceLoader). */
    public Builder rateLimiter(RateLimiter limiter) {
      this.rateLimiter = limiter;
      return this;
    }

    /** Reports to a custom {@link EngineMetrics}; see also {@link #meterRegistry(MeterRegistry)}. */
    public Builder metrics(EngineMetrics metrics) {
      this.metrics = metrics;
      return this;
    }

    /** Reports OpenTelemetry GenAI and operational meters to a Micrometer registry. */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = registry;
      return this;
    }

    /** Lets debug logs include prompt token ids (off: they show only lengths). */
    public Builder logPrompts(boolean logPrompts) {
      this.logPrompts = logPrompts;
      return this;
    }

    /**
     * Splits each layer over {@code n} devices (tensor parallelism); n must divide num_attention_heads and either
     * divide num_key_value_heads or be a multiple of it (KV heads are then replicated). Default 1.
     */
    public Builder tensorParallel(int n) {
      this.tensorParallel = n;
      return this;
    }

    /** Splits the layers into {@code n} consecutive stages, one per (logical) device. Default 1. */
    public Builder pipelineParallel(int n) {
      this.pipelineParallel = n;
      return this;
    }

    public Builder backendProperty(String key, String value) {
      backendProperties.put(key, value);
      return this;
    }

    public AutoGLM build() {
      check();
      return ModelLoader.load(this);
    }

    private static void positive(String name, int value) {
      if (value < 1) {
        throw new IllegalArgumentException(name + " (" + value + ") must be >= 1");
      }
    }

    private void check() {
      if (modelPath == null) {
        throw new IllegalStateException("modelPath is not set");
      }
      if (!Files.isDirectory(modelPath)) {
        throw new ModelLoadException("modelPath " + modelPath + " is not a directory");
      }
      positive("kvBlockSizeTokens", kvBlockSizeTokens);
      positive("maxRunningSequences", maxRunningSequences);
      positive("maxBatchTokens", maxBatchTokens);
      positive("maxWaitingRequests", maxWaitingRequests);
      if (kvCacheBytes <= 0) {
        throw new IllegalArgumentException("kvCacheBytes (" + kvCacheBytes + ") must be > 0");
      }
      if (!(memoryFraction > 0 && memoryFraction <= 1)) {
        throw new IllegalArgumentException("memoryFraction (" + memoryFraction + ") must be in (0, 1]");
      }
      if (metrics != null && meterRegistry != null) {
        throw new IllegalStateException("set metrics(…) or meterRegistry(…), not both");
      }
      if (modelId != null && modelId.isBlank()) {
        throw new IllegalArgumentException("modelId must not be blank");
      }
      if (maxModelLen < 0) {
        throw new IllegalArgumentException("maxModelLen (" + maxModelLen + ") must be > 0");
      }
    }

    /** Impossible splits fail here, naming the head counts; a possible one waits for the engine to run it. */
  }
}

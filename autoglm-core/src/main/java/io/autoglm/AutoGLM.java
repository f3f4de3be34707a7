package io.autoglm;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.KvLayout;
import io.autoglm.grammar.GrammarCache;
import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.ModelConfig;
import io.autoglm.sched.Engine;
import io.autoglm.spi.ResponseCache;
import io.autoglm.tokenizer.GlmTokenizer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;

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
  static {
    InternalAccess.install();
  }

  private final EngineConfig engineConfig;
  private final ModelConfig config;
  private final GenerationDefaults generationDefaults;
  private final String backendName;
  private final Optional<ComputeBackend> backend; // the single-device backend; a sharded model owns its own
  private final Engine engine;
  private final KvLayout kvLayout;
  private final ExecutorService callbacks;
  private final Optional<GlmTokenizer> tokenizer;
  private final Requests requests;

  AutoGLM(EngineConfig engineConfig, ModelConfig config, GenerationDefaults defaults, String backendName,
      Optional<ComputeBackend> backend, Engine engine, KvLayout kvLayout, ExecutorService callbacks,
      Requests.Hooks hooks, Optional<GlmTokenizer> tokenizer) {
    this.engineConfig = engineConfig;
    this.config = config;
    this.generationDefaults = defaults;
    this.backendName = backendName;
    this.backend = backend;
    this.engine = engine;
    this.kvLayout = kvLayout;
    this.callbacks = callbacks;
    this.tokenizer = tokenizer;
    this.requests = new Requests(this, engine, hooks, callbacks, config.vocabSize(), defaults.eosTokenIds(),
        new Grammars(() -> glmTokenizer(), defaults.eosTokenIds()));
  }

  /**
   * What a loaded model is: its shape as config.json gives it, and the ids that end generation.
   *
   * @param architecture the transformers class, e.g. {@code Glm4ForCausalLM}
   * @param headDim channels per attention head
   * @param vocabSize rows of the embedding (often more than the tokenizer has ids)
   * @param dtype the checkpoint's stated dtype, e.g. {@code bfloat16} (informational)
   * @param eosTokenIds the ids that end generation (generation_config.json and config.json together)
   * @param quantization how the weights are quantized: {@code none}, {@code fp8 e4m3, 128×128 blocks (checkpoint)}
   *     for an FP8 checkpoint, or {@code ... (quantized at load)} with {@code Builder.quantization("fp8")}
   * @param kvCacheDtype how the KV cache stores keys and values: {@code auto} (the backend's compute dtype) or
   *     {@code fp8} (E4M3, scale 1), as {@code Builder.kvCacheDtype} set it
   */
  public record ModelInfo(String architecture, int numLayers, int hiddenSize, int numHeads, int numKvHeads,
      int headDim, int vocabSize, int maxPositionEmbeddings, String dtype, List<Integer> eosTokenIds,
      String quantization, String kvCacheDtype) {
    public ModelInfo {
      eosTokenIds = List.copyOf(eosTokenIds);
    }
  }

  /** The model's tokenizer, as far as callers need it: counting and rendering prompts, decoding ids. */
  public interface Tokenizer {
    /** The ids of {@code text}, special tokens written in it recognised as such. */
    List<Integer> encode(String text);

    /** The text of {@code ids}, special tokens left out. */
    String decode(List<Integer> ids);

    /** The conversation rendered with the model's chat template, as the model sees it. */
    String renderChat(ChatPrompt chat);

    /** The ids of {@link #renderChat(ChatPrompt)}: what {@link AutoGLM#chat} sends to the model. */
    List<Integer> encodeChat(ChatPrompt chat);

    /** Ids the tokenizer has text for; ids at or above it are never generated. */
    int vocabSize();

    /** The bytes id {@code id} decodes to (a byte-level BPE token may hold part of a character). */
    byte[] tokenBytes(int id);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The id requests and metrics name this model by (default: the checkpoint folder's name). */
  public String modelId() {
    return requests.hooks().modelId();
  }

  /** The response cache's statistics, when one is configured. */
  public Optional<ResponseCache.Stats> responseCacheStats() {
    return requests.hooks().responseCache().stats();
  }

  /** The model's shape. */
  public ModelInfo config() {
    return new ModelInfo(config.architecture().className(), config.numLayers(), config.hiddenSize(),
        config.numHeads(), config.numKvHeads(), config.headDim(), config.vocabSize(), config.maxPositionEmbeddings(),
        config.dtype(), generationDefaults.eosTokenIds(), ModelLoader.quantization(config, engineConfig),
        engineConfig.backendProperties().getOrDefault(io.autoglm.backend.BackendOptions.KV_CACHE_DTYPE, "auto"));
  }

  /** The settings it was loaded with. */
  public EngineConfig engineConfig() {
    return engineConfig;
  }

  public Path modelPath() {
    return engineConfig.modelPath();
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
    return requests.submit(request);
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
    return requests.submit(request, glmTokenizer());
  }

  /**
   * The model's tokenizer (loaded with the model when its folder has one).
   *
   * @throws IllegalStateException when the model folder has no tokenizer
   */
  public Tokenizer tokenizer() {
    return new TokenizerView(glmTokenizer());
  }

  GlmTokenizer glmTokenizer() {
    return tokenizer.orElseThrow(() -> new IllegalStateException(
        "model folder " + engineConfig.modelPath() + " has no tokenizer (tokenizer.json, or tokenizer.model with "
            + "tokenizer_config.json); text requests need one"));
  }

  ModelConfig modelConfig() {
    return config;
  }

  io.autoglm.sched.StepClock.Phases enginePhases() {
    return engine.phases();
  }

  Requests requests() {
    return requests;
  }

  /** Lookups of compiled grammars (structured output): hits, misses and cached grammars. */
  GrammarCache.Stats grammarCacheStats() {
    return requests.grammars().stats();
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

  /** Cancels requests still running, stops the engine thread and frees the model. */
  @Override
  public void close() {
    engine.close();
    backend.ifPresent(ComputeBackend::close);
    tokenizer.ifPresent(GlmTokenizer::close);
    callbacks.shutdown();
  }

  /**
   * Configures and loads a model; see {@link EngineConfig} for the settings and how the KV cache is sized. Each
   * setting may be given once; {@link #build()} leaves the builder reusable.
   */
  public static final class Builder extends ConfigBuilder {
    private Builder() {}

    @Override
    Builder self() {
      return this;
    }

    /**
     * Loads the model.
     *
     * @throws IllegalStateException for a setting missing or in conflict (the message names it)
     * @throws IllegalArgumentException for a value out of range
     * @throws ModelLoadException when the folder cannot be read as a GLM checkpoint
     */
    public AutoGLM build() {
      return ModelLoader.load(config(), plugins());
    }
  }
}

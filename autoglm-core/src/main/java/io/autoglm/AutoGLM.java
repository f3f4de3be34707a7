package io.autoglm;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.kv.BlockPool;
import io.autoglm.kv.KvCacheManager;
import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.parallel.ParallelConfig;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.sched.Engine;
import io.autoglm.sched.Scheduler;
import io.autoglm.sched.SchedulerConfig;
import io.autoglm.sched.Sequence;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
  private final ComputeBackend backend;
  private final Engine engine;
  private final KvLayout kvLayout;
  private final ExecutorService callbacks;

  private AutoGLM(Path modelPath, ModelConfig config, GenerationDefaults defaults, ComputeBackend backend,
      Engine engine, KvLayout kvLayout, ExecutorService callbacks) {
    this.modelPath = modelPath;
    this.config = config;
    this.generationDefaults = defaults;
    this.backend = backend;
    this.engine = engine;
    this.kvLayout = kvLayout;
    this.callbacks = callbacks;
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
    return backend.name();
  }

  public EngineStats stats() {
    return new EngineStats(engine.numRunning(), engine.numWaiting(), engine.kvUsage(), kvLayout.numBlocks(),
        kvLayout.blockSizeTokens(), engine.maxModelLen(), engine.steps(), engine.preemptions(), engine.loopNanos(),
        engine.forwardNanos());
  }

  /** Generates from token ids and waits for the result. Interrupting the caller cancels the request. */
  public GenerationResult generate(List<Integer> promptIds, SamplingParams params) {
    return await(submit(promptIds, params));
  }

  /** Starts a request; see {@link GenerationHandle}. */
  public GenerationHandle submit(List<Integer> promptIds, SamplingParams params) {
    return submit(promptIds, params, Optional.empty());
  }

  /** Starts a request that finishes with {@link FinishReason#TIMEOUT} if it runs past {@code timeout}. */
  public GenerationHandle submit(List<Integer> promptIds, SamplingParams params, Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout (" + timeout + ") must be positive");
    }
    return submit(promptIds, params, Optional.of(timeout));
  }

  private GenerationHandle submit(List<Integer> promptIds, SamplingParams params, Optional<Duration> timeout) {
    return enqueue(checkPrompt(promptIds), params, timeout, false);
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
      throw new IllegalArgumentException(String.format(
          "prompt has %d tokens; the context holds %d, so at most %d fit with one generated token",
          ids.length, engine.maxModelLen(), engine.maxModelLen() - 1));
    }
    return ids;
  }

  /** Queues a checked prompt. {@code captureLogits} keeps every position's logits (conformance checks). */
  GenerationHandle enqueue(int[] prompt, SamplingParams params, Optional<Duration> timeout, boolean captureLogits) {
    String id = "req-" + REQUEST_IDS.incrementAndGet();
    GenerationHandle handle = new GenerationHandle(id, callbacks, engine::wake);
    long deadline = timeout.map(t -> System.nanoTime() + t.toNanos()).orElse(Long.MAX_VALUE);
    long seed = params.seed().orElseGet(() -> ThreadLocalRandom.current().nextLong());
    Sequence seq = new Sequence(id, prompt, params, seed, deadline, captureLogits, new Listener(handle));
    handle.attach(seq);
    if (!engine.submit(seq)) {
      throw new OverloadedException(String.format(
          "request %s rejected: %d requests are already waiting (maxWaitingRequests)", id, engine.numWaiting()));
    }
    return handle;
  }

  /** Bridges the engine thread to a handle without ever blocking the engine: delivery runs on the callback pool. */
  private final class Listener implements Sequence.Listener {
    private final GenerationHandle handle;

    Listener(GenerationHandle handle) {
      this.handle = handle;
    }

    @Override
    public void onToken(int index, int tokenId) {
      handle.publisher().offer(new TokenEvent(index, tokenId, ""));
    }

    @Override
    public void onFinish(Sequence seq, FinishReason reason) {
      List<Integer> out = seq.outputTokens();
      if (reason == FinishReason.STOP && !out.isEmpty()) {
        out = out.subList(0, out.size() - 1); // the stop token itself is not part of the output
      }
      GenerationResult result = new GenerationResult(seq.id(), out, "", reason,
          new Usage(seq.promptLength(), seq.numOutputTokens(), seq.cachedPromptTokens()));
      if (seq.captureLogits()) {
        capturedLogits.put(seq.id(), List.copyOf(seq.capturedLogits()));
      }
      callbacks.execute(() -> handle.future().complete(result));
      handle.publisher().complete();
    }

    @Override
    public void onError(Sequence seq, Throwable error) {
      callbacks.execute(() -> handle.future().completeExceptionally(error));
      handle.publisher().fail(error);
    }
  }

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
    backend.close();
    callbacks.shutdown();
  }

  /**
   * Configures and loads a model. Sizes: KV blocks come from {@link #kvBlocks(int)} if set, else from the
   * backend's free memory × {@link #memoryFraction(double)}, else (CPU) from {@link #kvCacheBytes(long)}, default
   * 1 GiB, capped at what maxRunningSequences × maxModelLen can use.
   */
  public static final class Builder {
    private Path modelPath;
    private String backendName;
    private int kvBlockSizeTokens = 16;
    private int kvBlocks;
    private long kvCacheBytes = 1L << 30;
    private double memoryFraction = 0.9;
    private int maxRunningSequences = 256;
    private int maxBatchTokens = 2048;
    private int maxWaitingRequests = 4096;
    private int maxModelLen;
    private boolean prefixCaching = true;
    private LoadProgress loadProgress = LoadProgress.none();
    private final Map<String, String> backendProperties = new HashMap<>();
    private List<Integer> devices = List.of();
    private int tensorParallel = 1;
    private int pipelineParallel = 1;

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

    public Builder kvBlocks(int blocks) {
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
      ModelConfig config = ModelConfig.load(modelPath);
      checkParallel(config);
      GenerationDefaults defaults = GenerationDefaults.load(modelPath, config);
      ComputeBackendProvider provider = provider();
      ComputeBackend backend = provider.create(new BackendOptions(devices, memoryFraction, backendProperties));
      try {
        return load(config, defaults, backend);
      } catch (RuntimeException | Error e) {
        backend.close();
        throw e;
      }
    }

    private AutoGLM load(ModelConfig config, GenerationDefaults defaults, ComputeBackend backend) {
      long start = System.nanoTime();
      GlmModel model;
      try (Checkpoint ckpt = Checkpoint.open(modelPath)) {
        LoadProgress progress = (done, total) -> {
          loadProgress.layerLoaded(done, total);
          if (total >= 8 && done % Math.max(1, total / 4) == 0) {
            LOG.info("loaded {}/{} layers of {}", done, total, modelPath);
          }
        };
        model = GlmModel.load(config, ckpt, backend, progress);
      }
      KvLayout layout = new KvLayout(config.numLayers(), blocks(config, backend), kvBlockSizeTokens,
          config.numKvHeads(), config.headDim());
      int capacityTokens = (layout.numBlocks() - 1) * kvBlockSizeTokens;
      int contextLen = Math.min(config.maxPositionEmbeddings(), maxModelLen > 0 ? maxModelLen : Integer.MAX_VALUE);
      if (capacityTokens < contextLen) {
        LOG.warn("KV cache holds {} tokens, less than the context length {}: requests are capped at {}",
            capacityTokens, contextLen, capacityTokens);
        contextLen = capacityTokens;
      }
      KvCache kv = backend.allocateKv(layout);
      BlockPool pool = new BlockPool(layout.numBlocks());
      Scheduler scheduler = new Scheduler(new SchedulerConfig(maxRunningSequences, maxBatchTokens),
          new KvCacheManager(pool, kvBlockSizeTokens, prefixCaching));
      ExecutorService callbacks = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "autoglm-callbacks");
        t.setDaemon(true);
        return t;
      });
      Engine engine = new Engine(modelPath.getFileName().toString(), model, backend, kv, scheduler, pool,
          defaults.eosTokenIds(), contextLen, maxWaitingRequests, Engine.EngineObserver.none());
      LOG.info("loaded {} ({}, {} layers) on {} in {} ms; KV cache {} blocks × {} tokens, context {}",
          modelPath, config.architecture().className(), config.numLayers(), backend.name(),
          (System.nanoTime() - start) / 1_000_000, layout.numBlocks(), kvBlockSizeTokens, contextLen);
      return new AutoGLM(modelPath, config, defaults, backend, engine, layout, callbacks);
    }

    private int blocks(ModelConfig config, ComputeBackend backend) {
      if (kvBlocks > 0) {
        return kvBlocks;
      }
      long perToken = 2L * config.numLayers() * config.kvSize() * backend.weightBytesPerElement();
      long bytes = backend.freeMemoryBytes().isPresent()
          ? (long) (backend.freeMemoryBytes().getAsLong() * memoryFraction) : kvCacheBytes;
      long useful = (long) maxRunningSequences
          * Math.min(config.maxPositionEmbeddings(), maxModelLen > 0 ? maxModelLen : Integer.MAX_VALUE);
      long tokens = Math.min(bytes / perToken, useful);
      return (int) Math.max(2, Math.min(Integer.MAX_VALUE - 1, tokens / kvBlockSizeTokens + 1));
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
      if (kvBlocks < 0 || kvBlocks == 1) {
        throw new IllegalArgumentException("kvBlocks (" + kvBlocks + ") must be >= 2 (block 0 is reserved)");
      }
      if (kvCacheBytes <= 0) {
        throw new IllegalArgumentException("kvCacheBytes (" + kvCacheBytes + ") must be > 0");
      }
      if (!(memoryFraction > 0 && memoryFraction <= 1)) {
        throw new IllegalArgumentException("memoryFraction (" + memoryFraction + ") must be in (0, 1]");
      }
      if (maxModelLen < 0) {
        throw new IllegalArgumentException("maxModelLen (" + maxModelLen + ") must be > 0");
      }
    }

    /** Impossible splits fail here, naming the head counts; a possible one waits for the engine to run it. */
    private void checkParallel(ModelConfig config) {
      ParallelConfig parallel = new ParallelConfig(tensorParallel, pipelineParallel,
          tensorParallel * pipelineParallel > 1 ? devices : List.of());
      parallel.check(config);
      if (!parallel.isSingleDevice()) {
        throw new UnsupportedOperationException(String.format("tensorParallel (%d) × pipelineParallel (%d) fits "
            + "this model, but the engine does not run a sharded model yet (io.autoglm.parallel.ShardedModel is "
            + "its ModelRunner; see docs/parallel.md)", tensorParallel, pipelineParallel));
      }
    }

    private static void positive(String name, int value) {
      if (value < 1) {
        throw new IllegalArgumentException(name + " (" + value + ") must be >= 1");
      }
    }

    private ComputeBackendProvider provider() {
      List<ComputeBackendProvider> all = new ArrayList<>();
      ServiceLoader.load(ComputeBackendProvider.class, AutoGLM.class.getClassLoader()).forEach(all::add);
      if (backendName != null) {
        ComputeBackendProvider p = all.stream().filter(x -> x.name().equals(backendName)).findFirst()
            .orElseThrow(() -> new IllegalArgumentException("backend " + backendName + " is not on the classpath; found "
                + all.stream().map(ComputeBackendProvider::name).toList()));
        if (!p.isAvailable()) {
          throw new IllegalStateException("backend " + backendName + " is not available: " + p.unavailableReason());
        }
        return p;
      }
      return all.stream().filter(ComputeBackendProvider::isAvailable)
          .max(Comparator.comparingInt(ComputeBackendProvider::priority))
          .orElseThrow(() -> new IllegalStateException("no compute backend is available"));
    }
  }
}

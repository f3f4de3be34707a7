package io.autoglm;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.model.GenerationDefaults;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.ModelRunner;
import io.autoglm.model.UnusedTensors;
import io.autoglm.parallel.ParallelConfig;
import io.autoglm.parallel.ShardedModel;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.sched.Engine;
import io.autoglm.sched.EngineLimits;
import io.autoglm.tokenizer.GlmTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a checked {@link EngineConfig} into a running model: picks the backend, loads the weights (on one device,
 * or sharded), sizes and allocates the KV cache from the backend's budget, resolves the SPIs and starts the engine
 * thread. Anything made before a failure is closed.
 */
final class ModelLoader {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLM.class);

  private final EngineConfig c;
  private final ConfigBuilder.Plugins plugins;

  private ModelLoader(EngineConfig config, ConfigBuilder.Plugins plugins) {
    this.c = config;
    this.plugins = plugins;
  }

  static AutoGLM load(EngineConfig config, ConfigBuilder.Plugins plugins) {
    if (!Files.isDirectory(config.modelPath())) {
      throw new ModelLoadException("modelPath " + config.modelPath() + " is not a directory");
    }
    return new ModelLoader(config, plugins).build();
  }

  private AutoGLM build() {
    ModelConfig config = ModelConfig.load(c.modelPath());
    parallel().check(config);
    GenerationDefaults defaults = GenerationDefaults.load(c.modelPath(), config);
    ComputeBackendProvider provider = Backends.provider(c.backendName());
    Optional<GlmTokenizer> tokenizer = tokenizer(); // before the device is touched: a bad tokenizer fails fast
    Optional<ComputeBackend> backend = Optional.empty();
    try {
      backend = c.sharded() ? Optional.empty() : Optional.of(provider.create(backendOptions(config)));
      return load(config, defaults, provider, backend, tokenizer);
    } catch (RuntimeException | Error e) {
      backend.ifPresent(ComputeBackend::close);
      tokenizer.ifPresent(GlmTokenizer::close);
      throw e;
    }
  }

  /**
   * Ids the engine may sample: those the tokenizer has text for (GLM-4's embedding has 151,552 rows, its tokenizer
   * 151,343 ids), or every row when there is no tokenizer.
   */
  static int vocabLimit(ModelConfig config, Optional<GlmTokenizer> tokenizer) {
    return tokenizer.map(t -> Math.min(config.vocabSize(), t.vocabSize())).orElse(config.vocabSize());
  }

  /** The model on its device(s) with its KV cache; {@code resources} is what the engine closes. */
  private record Loaded(ModelRunner runner, AutoCloseable resources, KvLayout layout) {}

  private AutoGLM load(ModelConfig config, GenerationDefaults defaults, ComputeBackendProvider provider,
      Optional<ComputeBackend> single, Optional<GlmTokenizer> tokenizer) {
    long start = System.nanoTime();
    Loaded loaded = loadWeights(config, provider, single);
    KvLayout layout = loaded.layout();
    int contextLen = contextLength(config, layout);
    Requests.Hooks hooks = Backends.hooks(c, plugins);
    ExecutorService callbacks = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "autoglm-callbacks");
      t.setDaemon(true);
      return t;
    });
    Engine engine = Engine.start(hooks.modelId(), loaded.runner(), loaded.resources(),
        new EngineLimits(layout.numBlocks(), c.kvBlockSizeTokens(), c.prefixCaching(), c.maxRunningSequences(),
            c.maxBatchTokens(), c.maxWaitingRequests(), contextLen, vocabLimit(config, tokenizer)),
        defaults.eosTokenIds(), Backends.observer(hooks.metrics()));
    LOG.info("loaded {} ({}, {} layers) on {} in {} ms; KV cache {} blocks × {} tokens, context {}",
        c.modelPath(), config.architecture().className(), config.numLayers(), provider.name(),
        (System.nanoTime() - start) / 1_000_000, layout.numBlocks(), c.kvBlockSizeTokens(), contextLen);
    AutoGLM glm = new AutoGLM(c, config, defaults, provider.name(), single, engine, layout, callbacks, hooks,
        tokenizer);
    plugins.meterRegistry().ifPresent(r -> glm.requests().grammars().bindMeters(r, hooks.modelId()));
    return glm;
  }

  private Loaded loadWeights(ModelConfig config, ComputeBackendProvider provider, Optional<ComputeBackend> single) {
    LoadProgress progress = (done, total) -> {
      plugins.loadProgress().layerLoaded(done, total);
      if (total >= 8 && done % Math.max(1, total / 4) == 0) {
        LOG.info("loaded {}/{} layers of {}", done, total, c.modelPath());
      }
    };
    try (Checkpoint ckpt = Checkpoint.open(c.modelPath(), config.quantization())) {
      UnusedTensors.warning(config, ckpt.tensorNames(), c.modelPath()).ifPresent(LOG::warn);
      if (single.isPresent()) {
        ComputeBackend backend = single.get();
        GlmModel model = GlmModel.load(config, ckpt, backend, progress);
        KvLayout layout = new KvLayout(config.numLayers(), blocks(config, backend.kvCacheBudgetBytes(),
            backend.kvBytesPerElement()), c.kvBlockSizeTokens(), config.numKvHeads(), config.headDim());
        KvCache kv = backend.allocateKv(layout);
        return new Loaded(ModelRunner.single(model, backend, kv), kv, layout);
      }
      ShardedModel sharded = ShardedModel.load(config, ckpt, parallel(), provider, backendOptions(config),
          bytesPerElement -> blocks(config, OptionalLong.empty(), bytesPerElement), c.kvBlockSizeTokens(), progress);
      return new Loaded(sharded, sharded, sharded.kvLayout());
    }
  }

  /** The context the engine allows: the configured one, capped at what the KV cache holds. */
  private int contextLength(ModelConfig config, KvLayout layout) {
    int capacityTokens = (layout.numBlocks() - 1) * c.kvBlockSizeTokens();
    int contextLen = c.contextTokens(config.maxPositionEmbeddings());
    if (capacityTokens < contextLen) {
      LOG.warn("KV cache holds {} tokens, less than the context length {}: requests are capped at {}",
          capacityTokens, contextLen, capacityTokens);
      return capacityTokens;
    }
    return contextLen;
  }

  private Optional<GlmTokenizer> tokenizer() {
    Path dir = c.tokenizerPath().orElse(c.modelPath());
    boolean present = Files.isRegularFile(dir.resolve("tokenizer.json"))
        || Files.isRegularFile(dir.resolve("tokenizer.model"));
    if (c.tokenizerPath().isPresent() && !present) {
      throw new ModelLoadException("tokenizerPath " + dir + " holds neither tokenizer.json nor tokenizer.model");
    }
    return present ? Optional.of(GlmTokenizer.load(dir)) : Optional.empty();
  }

  /**
   * KV blocks: the configured count, else the backend's budget (or kvCacheBytes) over the bytes of one block at
   * the backend's element size, capped at what maxRunningSequences full contexts use, plus the null block.
   */
  private int blocks(ModelConfig config, OptionalLong budgetBytes, int bytesPerElement) {
    if (c.kvBlocks().isPresent()) {
      return c.kvBlocks().getAsInt();
    }
    long perToken = 2L * config.numLayers() * config.kvSize() * bytesPerElement;
    long bytes = budgetBytes.orElse(c.kvCacheBytes());
    long useful = (long) c.maxRunningSequences() * c.contextTokens(config.maxPositionEmbeddings());
    long tokens = Math.min(bytes / perToken, useful);
    return (int) Math.max(2, Math.min(Integer.MAX_VALUE - 1, tokens / c.kvBlockSizeTokens() + 1));
  }

  /**
   * The builder's backend properties plus {@link StepSize#PROPERTY}: the activation bytes one step of
   * {@code maxBatchTokens} tokens may need, so a backend can size its per-step scratch (the CUDA arena) for it.
   */
  private BackendOptions backendOptions(ModelConfig config) {
    java.util.Map<String, String> p = new java.util.HashMap<>(c.backendProperties());
    p.putIfAbsent(StepSize.PROPERTY, Long.toString(StepSize.activationBytes(config, c.maxBatchTokens(),
        c.maxRunningSequences())));
    return new BackendOptions(c.devices(), c.memoryFraction(), p);
  }

  /**
   * How the loaded weights are quantized, for {@link AutoGLM.ModelInfo}: the checkpoint's own FP8 blocks, FP8 at load,
   * or {@code none}.
   */
  static String quantization(ModelConfig config, EngineConfig c) {
    if (config.quantization().isPresent()) {
      return config.quantization().get() + " (checkpoint)";
    }
    return c.backendProperties().containsKey(BackendOptions.QUANTIZATION)
        ? io.autoglm.safetensors.Fp8Scheme.PUBLISHED + " (quantized at load)" : "none";
  }

  private ParallelConfig parallel() {
    return new ParallelConfig(c.tensorParallel(), c.pipelineParallel(), c.sharded() ? c.devices() : List.of());
  }
}

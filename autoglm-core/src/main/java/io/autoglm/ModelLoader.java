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
import io.autoglm.model.ModelRunner;
import io.autoglm.model.UnusedTensors;
import io.autoglm.parallel.ParallelConfig;
import io.autoglm.parallel.ShardedModel;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.sched.Engine;
import io.autoglm.sched.Scheduler;
import io.autoglm.sched.SchedulerConfig;
import io.autoglm.sched.Sequence;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.autoglm.spi.Spis;
import io.autoglm.tokenizer.GlmTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a checked {@link AutoGLM.Builder} into a running model: picks the backend, loads the weights (on one
 * device, or sharded), sizes and allocates the KV cache, resolves the SPIs and starts the engine thread. Anything
 * made before a failure is closed.
 */
final class ModelLoader {
  private static final Logger LOG = LoggerFactory.getLogger(AutoGLM.class);

  private final AutoGLM.Builder b;

  private ModelLoader(AutoGLM.Builder b) {
    this.b = b;
  }

  static AutoGLM load(AutoGLM.Builder builder) {
    return new ModelLoader(builder).build();
  }

  private AutoGLM build() {
    ModelConfig config = ModelConfig.load(b.modelPath);
    checkParallel(config);
    GenerationDefaults defaults = GenerationDefaults.load(b.modelPath, config);
    ComputeBackendProvider provider = provider();
    Optional<GlmTokenizer> tokenizer = tokenizer(); // before the device is touched: a bad tokenizer fails fast
    Optional<ComputeBackend> backend = Optional.empty();
    try {
      backend = parallel().isSingleDevice()
          ? Optional.of(provider.create(new BackendOptions(b.devices, b.memoryFraction, b.backendProperties)))
          : Optional.empty();
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

  private AutoGLM load(ModelConfig config, GenerationDefaults defaults, ComputeBackendProvider provider,
      Optional<ComputeBackend> single, Optional<GlmTokenizer> tokenizer) {
    long start = System.nanoTime();
    LoadProgress progress = (done, total) -> {
      b.loadProgress.layerLoaded(done, total);
      if (total >= 8 && done % Math.max(1, total / 4) == 0) {
        LOG.info("loaded {}/{} layers of {}", done, total, b.modelPath);
      }
    };
    ModelRunner runner;
    AutoCloseable resources;
    KvLayout layout;
    try (Checkpoint ckpt = Checkpoint.open(b.modelPath)) {
      UnusedTensors.warning(config, ckpt.tensorNames(), b.modelPath).ifPresent(LOG::warn);
      if (single.isPresent()) {
        ComputeBackend backend = single.get();
        GlmModel model = GlmModel.load(config, ckpt, backend, progress);
        layout = new KvLayout(config.numLayers(), blocks(config, backend.kvCacheBudgetBytes(),
            backend.weightBytesPerElement()), b.kvBlockSizeTokens,
            config.numKvHeads(), config.headDim());
        KvCache kv = backend.allocateKv(layout);
        runner = ModelRunner.single(model, backend, kv);
        resources = kv;
      } else {
        ShardedModel sharded = ShardedModel.load(config, ckpt, parallel(), provider,
            new BackendOptions(b.devices, b.memoryFraction, b.backendProperties),
            blocks(config, java.util.OptionalLong.empty(), 4), b.kvBlockSizeTokens, progress);
        runner = sharded;
        resources = sharded;
        layout = sharded.kvLayout();
      }
    }
    int capacityTokens = (layout.numBlocks() - 1) * b.kvBlockSizeTokens;
    int contextLen = Math.min(config.maxPositionEmbeddings(), b.maxModelLen > 0 ? b.maxModelLen : Integer.MAX_VALUE);
    if (capacityTokens < contextLen) {
      LOG.warn("KV cache holds {} tokens, less than the context length {}: requests are capped at {}",
          capacityTokens, contextLen, capacityTokens);
      contextLen = capacityTokens;
    }
    BlockPool pool = new BlockPool(layout.numBlocks());
    Scheduler scheduler = new Scheduler(new SchedulerConfig(b.maxRunningSequences, b.maxBatchTokens),
        new KvCacheManager(pool, b.kvBlockSizeTokens, b.prefixCaching));
    ExecutorService callbacks = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "autoglm-callbacks");
      t.setDaemon(true);
      return t;
    });
    AutoGLM.Hooks hooks = hooks();
    Engine engine = new Engine(hooks.modelId(), runner, resources, scheduler, pool,
        defaults.eosTokenIds(), contextLen, vocabLimit(config, tokenizer), b.maxWaitingRequests,
        observer(hooks.metrics()));
    LOG.info("loaded {} ({}, {} layers) on {} in {} ms; KV cache {} blocks × {} tokens, context {}",
        b.modelPath, config.architecture().className(), config.numLayers(), provider.name(),
        (System.nanoTime() - start) / 1_000_000, layout.numBlocks(), b.kvBlockSizeTokens, contextLen);
    AutoGLM glm = new AutoGLM(b.modelPath, config, defaults, provider.name(), single, engine, layout, callbacks,
        hooks, tokenizer);
    if (b.meterRegistry != null) {
      glm.bindGrammarMeters(b.meterRegistry, hooks.modelId());
    }
    return glm;
  }

  private Optional<GlmTokenizer> tokenizer() {
    Path dir = b.tokenizerPath != null ? b.tokenizerPath : b.modelPath;
    boolean present = Files.isRegularFile(dir.resolve("tokenizer.json")) || Files.isRegularFile(dir.resolve("tokenizer.model"));
    if (b.tokenizerPath != null && !present) {
      throw new ModelLoadException("tokenizerPath " + dir + " holds neither tokenizer.json nor tokenizer.model");
    }
    return present ? Optional.of(GlmTokenizer.load(dir)) : Optional.empty();
  }

  private AutoGLM.Hooks hooks() {
    String id = b.modelId != null ? b.modelId : b.modelPath.getFileName().toString();
    EngineMetrics m = b.metrics != null ? b.metrics
        : b.meterRegistry != null ? EngineMetrics.micrometer(b.meterRegistry, id)
        : Spis.load(EngineMetrics.class, EngineMetrics.none());
    return new AutoGLM.Hooks(id,
        b.responseCache != null ? b.responseCache : Spis.load(ResponseCache.class, ResponseCache.none()),
        b.rateLimiter != null ? b.rateLimiter : Spis.load(RateLimiter.class, RateLimiter.unlimited()),
        m.forModel(id), b.logPrompts);
  }

  private static Engine.EngineObserver observer(EngineMetrics metrics) {
    if (metrics == EngineMetrics.none()) {
      return Engine.EngineObserver.none();
    }
    return new Engine.EngineObserver() {
      @Override
      public void onStep(int running, int waiting, double kvUsage, int batchTokens) {
        metrics.onStep(running, waiting, kvUsage, batchTokens);
      }

      @Override
      public void onPreemption(Sequence seq) {
        metrics.onPreemption();
      }

      @Override
      public void onAdmitted(Sequence seq, int cachedTokens) {
        metrics.onPrefixCacheLookup(cachedTokens, seq.promptLength());
      }
    };
  }

  private int blocks(ModelConfig config, java.util.OptionalLong budgetBytes, int bytesPerElement) {
    if (b.kvBlocks > 0) {
      return b.kvBlocks;
    }
    long perToken = 2L * config.numLayers() * config.kvSize() * bytesPerElement;
    long bytes = budgetBytes.orElse(b.kvCacheBytes);
    long useful = (long) b.maxRunningSequences
        * Math.min(config.maxPositionEmbeddings(), b.maxModelLen > 0 ? b.maxModelLen : Integer.MAX_VALUE);
    long tokens = Math.min(bytes / perToken, useful);
    return (int) Math.max(2, Math.min(Integer.MAX_VALUE - 1, tokens / b.kvBlockSizeTokens + 1));
  }

  private void checkParallel(ModelConfig config) {
    parallel().check(config);
  }

  private ParallelConfig parallel() {
    return new ParallelConfig(b.tensorParallel, b.pipelineParallel,
        b.tensorParallel * b.pipelineParallel > 1 ? b.devices : List.of());
  }

  private ComputeBackendProvider provider() {
    List<ComputeBackendProvider> all = new ArrayList<>();
    ServiceLoader.load(ComputeBackendProvider.class, AutoGLM.class.getClassLoader()).forEach(all::add);
    if (b.backendName != null) {
      ComputeBackendProvider p = all.stream().filter(x -> x.name().equals(b.backendName)).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("backend " + b.backendName + " is not on the classpath; found "
              + all.stream().map(ComputeBackendProvider::name).toList()));
      if (!p.isAvailable()) {
        throw new IllegalStateException("backend " + b.backendName + " is not available: " + p.unavailableReason());
      }
      return p;
    }
    return all.stream().filter(ComputeBackendProvider::isAvailable)
        .max(Comparator.comparingInt(ComputeBackendProvider::priority))
        .orElseThrow(() -> new IllegalStateException("no compute backend is available"));
  }
}

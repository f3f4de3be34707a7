package io.autoglm;

import io.autoglm.model.LoadProgress;
import io.autoglm.spi.EngineMetrics;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.ResponseCache;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.BiConsumer;

/**
 * The settings half of {@link AutoGLM.Builder}: one method per property of {@link EngineConfig} (and per SPI), each
 * of which may be called once, as in Caffeine ("maxBatchTokens was already set to 2048"). {@link #config()} checks
 * the cross-field rules and leaves the builder reusable.
 */
abstract class ConfigBuilder {
  private final Map<String, Object> given = new LinkedHashMap<>(); // property → the value it was set to
  private final Map<String, String> backendProperties = new HashMap<>();

  /** The {@link AutoGLM.Builder} this is the base of, for chaining. */
  abstract AutoGLM.Builder self();

  private AutoGLM.Builder set(String property, Object value) {
    if (value == null) {
      throw new IllegalArgumentException(property + " must not be null");
    }
    Object before = given.putIfAbsent(property, value);
    if (before != null) {
      throw new IllegalStateException(property + " was already set to " + before + "; cannot set it to " + value);
    }
    return self();
  }

  @SuppressWarnings("unchecked")
  private <T> Optional<T> get(String property) {
    return Optional.ofNullable((T) given.get(property));
  }

  private int intOr(String property, int fallback) {
    return this.<Integer>get(property).orElse(fallback);
  }

  private OptionalInt optionalInt(String property) {
    return this.<Integer>get(property).map(OptionalInt::of).orElse(OptionalInt.empty());
  }

  /** A folder holding config.json and the safetensors weights. Required. */
  public AutoGLM.Builder modelPath(Path modelPath) {
    return set("modelPath", modelPath);
  }

  /** {@code cpu}, {@code cuda}, …; default: the available backend with the highest priority. */
  public AutoGLM.Builder backend(String name) {
    return set("backend", name);
  }

  /** Tokens per KV block; default 16. */
  public AutoGLM.Builder kvBlockSizeTokens(int tokens) {
    return set("kvBlockSizeTokens", tokens);
  }

  /** KV cache blocks, at least 2 (block 0 is reserved); unset: sized from memory (see {@link EngineConfig}). */
  public AutoGLM.Builder kvBlocks(int blocks) {
    if (blocks < 2) {
      throw new IllegalArgumentException("kvBlocks (" + blocks + ") must be >= 2 (block 0 is reserved); leave it "
          + "unset to size the cache from memory");
    }
    return set("kvBlocks", blocks);
  }

  /** The KV budget of a backend that reports none (CPU), in bytes; default 1 GiB. */
  public AutoGLM.Builder kvCacheBytes(long bytes) {
    return set("kvCacheBytes", bytes);
  }

  /** The share of free device memory the KV cache may take, in (0, 1]; default 0.9. */
  public AutoGLM.Builder memoryFraction(double fraction) {
    return set("memoryFraction", fraction);
  }

  /** Sequences in one step at most; default 256. */
  public AutoGLM.Builder maxRunningSequences(int n) {
    return set("maxRunningSequences", n);
  }

  /** Tokens in one step at most; default 2048. */
  public AutoGLM.Builder maxBatchTokens(int n) {
    return set("maxBatchTokens", n);
  }

  /** Queued requests at most; default 4096. */
  public AutoGLM.Builder maxWaitingRequests(int n) {
    return set("maxWaitingRequests", n);
  }

  /** Caps the context (prompt + output) below the model's max_position_embeddings, in tokens. */
  public AutoGLM.Builder maxModelLen(int tokens) {
    return set("maxModelLen", tokens);
  }

  /** Shares full KV blocks between prompts with the same prefix; default on. */
  public AutoGLM.Builder prefixCaching(boolean enabled) {
    return set("prefixCaching", enabled);
  }

  /** Told {@code (layersLoaded, layersTotal)} after each layer is loaded, on the loading thread. */
  public AutoGLM.Builder loadProgress(BiConsumer<Integer, Integer> progress) {
    return set("loadProgress", progress);
  }

  /** The device ordinals to use; default: the backend's. */
  public AutoGLM.Builder devices(List<Integer> devices) {
    return set("devices", List.copyOf(devices));
  }

  /** Where the tokenizer files are, when not in the model folder. */
  public AutoGLM.Builder tokenizerPath(Path dir) {
    return set("tokenizerPath", dir);
  }

  /** The name requests, caches and metrics use for this model (default: the checkpoint folder's name). */
  public AutoGLM.Builder modelId(String modelId) {
    return set("modelId", modelId);
  }

  /** Answers repeated deterministic requests without the model (default: none, or one found by ServiceLoader). */
  public AutoGLM.Builder responseCache(ResponseCache cache) {
    return set("responseCache", cache);
  }

  /** Limits callers (default: unlimited, or one found by ServiceLoader). */
  public AutoGLM.Builder rateLimiter(RateLimiter limiter) {
    return set("rateLimiter", limiter);
  }

  /** Reports to a custom {@link EngineMetrics}; see also {@link #meterRegistry(MeterRegistry)}. */
  public AutoGLM.Builder metrics(EngineMetrics metrics) {
    return set("metrics", metrics);
  }

  /** Reports OpenTelemetry GenAI and operational meters to a Micrometer registry. */
  public AutoGLM.Builder meterRegistry(MeterRegistry registry) {
    return set("meterRegistry", registry);
  }

  /** Lets debug logs include prompt token ids (off: they show only lengths). */
  public AutoGLM.Builder logPrompts(boolean logPrompts) {
    return set("logPrompts", logPrompts);
  }

  /**
   * Splits each layer over {@code n} devices (tensor parallelism); n must divide num_attention_heads and either
   * divide num_key_value_heads or be a multiple of it (KV heads are then replicated). Default 1.
   */
  public AutoGLM.Builder tensorParallel(int n) {
    return set("tensorParallel", n);
  }

  /** Splits the layers into {@code n} consecutive stages, one per (logical) device. Default 1. */
  public AutoGLM.Builder pipelineParallel(int n) {
    return set("pipelineParallel", n);
  }

  /** The values {@link #quantization} takes. */
  static final java.util.List<String> QUANTIZATIONS = java.util.List.of("fp8", "int8");

  /**
   * Quantizes the weights as they load: {@code "fp8"} stores the decoder's linear layers (q/k/v/o, gate/up, down,
   * experts; not embeddings, norms, the router or lm_head) as FP8 E4M3 in 128×128 blocks, each block scaled by its
   * largest magnitude / 448 (see docs/fp8.md). On a checkpoint that is already FP8 it changes nothing. The CPU
   * backend, which computes in fp32, quantizes and dequantizes again: the reference of what an FP8 backend computes.
   * {@code "int8"} (the {@code cpu-native} backend of {@code autoglm-cpu} only) stores every matrix as GGUF Q8_0
   * (32-value blocks, fp16 scale); see docs/cpu.md. A backend refuses a scheme it does not implement, by name.
   * Reaches the backend as the backend property {@value io.autoglm.backend.BackendOptions#QUANTIZATION}. Default:
   * weights as stored.
   */
  public AutoGLM.Builder quantization(String scheme) {
    if (scheme != null && !QUANTIZATIONS.contains(scheme)) {
      throw new IllegalArgumentException("quantization (" + scheme + ") must be one of " + QUANTIZATIONS);
    }
    return set("quantization", scheme);
  }

  /** The values {@link #kvCacheDtype} takes. */
  static final java.util.List<String> KV_CACHE_DTYPES = java.util.List.of("auto", "fp8");

  /**
   * How the KV cache stores keys and values: {@code "auto"} (the default) in the backend's compute dtype (bf16 on
   * CUDA, fp32 on the CPU), {@code "fp8"} as FP8 E4M3 with scale 1 (values beyond ±448 saturate; vLLM's
   * {@code kv_cache_dtype="fp8"} without calibrated scales). The DJL {@code cpu} backend, which computes in fp32,
   * rounds each key and value to E4M3 as it is written: the reference of what an FP8 KV cache computes, without its
   * memory saving (docs/fp8.md#fp8-kv-cache). A backend refuses a dtype it does not implement, by name. Reaches the
   * backend as the backend property {@value io.autoglm.backend.BackendOptions#KV_CACHE_DTYPE}.
   */
  public AutoGLM.Builder kvCacheDtype(String dtype) {
    if (dtype != null && !KV_CACHE_DTYPES.contains(dtype)) {
      throw new IllegalArgumentException("kvCacheDtype (" + dtype + ") must be one of " + KV_CACHE_DTYPES);
    }
    return set("kvCacheDtype", dtype);
  }

  /** A backend-specific setting, e.g. {@code cuda.cublasPath}; each key once. */
  public AutoGLM.Builder backendProperty(String key, String value) {
    if (key == null || value == null) {
      throw new IllegalArgumentException("backendProperty key and value must not be null, got " + key + " = "
          + value);
    }
    String before = backendProperties.putIfAbsent(key, value);
    if (before != null) {
      throw new IllegalStateException("backendProperty " + key + " was already set to " + before
          + "; cannot set it to " + value);
    }
    return self();
  }

  /**
   * The checked configuration; the builder stays usable.
   *
   * @throws IllegalStateException when modelPath is unset, metrics and meterRegistry are both set, or quantization
   *     or kvCacheDtype contradicts the backend property it sets
   * @throws IllegalArgumentException for a value out of range (the message names the setting)
   */
  public EngineConfig config() {
    Path modelPath = this.<Path>get("modelPath").orElseThrow(() -> new IllegalStateException("modelPath is not set"));
    if (given.containsKey("metrics") && given.containsKey("meterRegistry")) {
      throw new IllegalStateException("set metrics(…) or meterRegistry(…), not both; metrics is " + given.get("metrics")
          + ", meterRegistry is " + given.get("meterRegistry"));
    }
    Map<String, String> properties = new HashMap<>(backendProperties);
    asProperty(properties, "quantization", io.autoglm.backend.BackendOptions.QUANTIZATION);
    asProperty(properties, "kvCacheDtype", io.autoglm.backend.BackendOptions.KV_CACHE_DTYPE);
    return new EngineConfig(modelPath, get("backend"), get("tokenizerPath"), get("modelId"),
        intOr("kvBlockSizeTokens", 16), optionalInt("kvBlocks"), this.<Long>get("kvCacheBytes").orElse(1L << 30),
        this.<Double>get("memoryFraction").orElse(0.9), intOr("maxRunningSequences", 256),
        intOr("maxBatchTokens", 2048), intOr("maxWaitingRequests", 4096), optionalInt("maxModelLen"),
        this.<Boolean>get("prefixCaching").orElse(true), this.<Boolean>get("logPrompts").orElse(false),
        intOr("tensorParallel", 1), intOr("pipelineParallel", 1), this.<List<Integer>>get("devices").orElse(List.of()),
        properties);
  }

  /** Puts a setting that reaches the backend as {@code key}, unless a backendProperty gave it another value. */
  private void asProperty(Map<String, String> properties, String setting, String key) {
    this.<String>get(setting).ifPresent(value -> {
      String before = properties.putIfAbsent(key, value);
      if (before != null && !before.equals(value)) {
        throw new IllegalStateException(setting + " (" + value + ") contradicts backendProperty " + key + " = "
            + before);
      }
    });
  }

  /** The SPIs given, each empty when unset (the loader then asks ServiceLoader or uses the default). */
  Plugins plugins() {
    return new Plugins(get("responseCache"), get("rateLimiter"), get("metrics"), get("meterRegistry"),
        this.<BiConsumer<Integer, Integer>>get("loadProgress").<LoadProgress>map(p -> p::accept)
            .orElse(LoadProgress.none()));
  }

  /** The live objects a model is loaded with besides its {@link EngineConfig}. */
  record Plugins(Optional<ResponseCache> responseCache, Optional<RateLimiter> rateLimiter,
      Optional<EngineMetrics> metrics, Optional<MeterRegistry> meterRegistry, LoadProgress loadProgress) {}
}

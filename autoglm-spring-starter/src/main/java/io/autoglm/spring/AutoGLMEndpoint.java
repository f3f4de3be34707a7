package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import java.util.Map;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;

/**
 * The {@code autoglm} actuator endpoint: the model, the effective engine settings, the queue, KV cache usage and
 * response-cache statistics (read); a hot swap to another checkpoint (write: {@code POST /actuator/autoglm} with
 * {@code {"modelPath": ..., "modelId": ..., "tokenizerPath": ...}}, API-key protected like the rest of the actuator).
 * API keys are never shown.
 */
@Endpoint(id = "autoglm")
public class AutoGLMEndpoint {
  private final AutoGLMProvider provider;
  private final AutoGLMProperties properties;

  private final Optional<AutoGLMFactory> factory;

  public AutoGLMEndpoint(AutoGLMProvider provider, AutoGLMProperties properties) {
    this(provider, properties, Optional.empty());
  }

  /** @param factory builds swapped-in engines; empty: the application serves its own engine, and swaps refuse */
  public AutoGLMEndpoint(AutoGLMProvider provider, AutoGLMProperties properties, Optional<AutoGLMFactory> factory) {
    this.provider = provider;
    this.properties = properties;
    this.factory = factory;
  }

  /**
   * Starts a hot swap and answers at once: the new checkpoint loads beside the serving one; new requests switch to
   * it once it is ready; the old one drains and closes. Watch {@code models} here or in health for the outcome.
   *
   * @param modelPath the new checkpoint folder
   * @param modelId its id (default: the folder's name)
   * @param tokenizerPath its tokenizer folder (default: autoglm.tokenizer-path, else the checkpoint folder)
   */
  @WriteOperation
  public WebEndpointResponse<Map<String, Object>> swap(String modelPath, @Nullable String modelId,
      @Nullable String tokenizerPath) {
    if (factory.isEmpty()) {
      return error(409, "this application serves its own AutoGLM bean, so the starter cannot build another; swap "
          + "it in code");
    }
    Path path = Path.of(modelPath);
    if (!Files.isDirectory(path)) {
      return error(400, "modelPath " + modelPath + " is not a directory; expected a checkpoint folder with "
          + "config.json");
    }
    String announced = modelId != null ? modelId : String.valueOf(path.getFileName());
    Path tokenizer = tokenizerPath == null ? null : Path.of(tokenizerPath);
    try {
      provider.swap(announced, () -> factory.get().create(path, modelId, tokenizer));
    } catch (IllegalStateException e) {
      return error(409, e.getMessage());
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("loading", announced);
    out.put("models", AutoGLMHealthIndicator.models(provider));
    return new WebEndpointResponse<>(out, 202);
  }

  private static WebEndpointResponse<Map<String, Object>> error(int status, String message) {
    return new WebEndpointResponse<>(Map.of("error", message), status);
  }

  @ReadOperation
  public Map<String, Object> autoglm() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("state", provider.state().name());
    provider.failure().ifPresent(f -> out.put("error", f.toString()));
    provider.get().ifPresent(glm -> describe(glm, out));
    out.put("models", AutoGLMHealthIndicator.models(provider));
    out.put("settings", settings());
    return out;
  }

  private static void describe(AutoGLM glm, Map<String, Object> out) {
    AutoGLM.ModelInfo c = glm.config();
    Map<String, Object> model = new LinkedHashMap<>();
    model.put("id", glm.modelId());
    model.put("path", String.valueOf(glm.modelPath()));
    model.put("architecture", c.architecture());
    model.put("backend", glm.backendName());
    model.put("layers", c.numLayers());
    model.put("hiddenSize", c.hiddenSize());
    model.put("heads", c.numHeads());
    model.put("kvHeads", c.numKvHeads());
    model.put("vocabSize", c.vocabSize());
    model.put("maxPositionEmbeddings", c.maxPositionEmbeddings());
    model.put("dtype", c.dtype());
    model.put("quantization", c.quantization());
    model.put("eosTokenIds", glm.eosTokenIds());
    out.put("model", model);
    EngineStats s = glm.stats();
    out.put("queue", Map.of("running", s.running(), "waiting", s.waiting()));
    out.put("kvCache", Map.of("usage", s.kvUsage(), "blocks", s.kvBlocks(), "blockSizeTokens", s.kvBlockSizeTokens(),
        "maxModelLen", s.maxModelLen(), "dtype", c.kvCacheDtype()));
    out.put("engine", Map.of("steps", s.steps(), "preemptions", s.preemptions(),
        "stepMillis", s.stepNanos() / 1_000_000, "forwardMillis", s.forwardNanos() / 1_000_000));
    glm.responseCacheStats().ifPresent(r -> out.put("responseCache", Map.of("hits", r.hitCount(),
        "misses", r.missCount(), "evictions", r.evictionCount(), "hitRate", r.hitRate())));
  }

  private Map<String, Object> settings() {
    AutoGLMProperties p = properties;
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("servedModelName", provider.servedName().orElse(null));
    s.put("kvBlocks", p.kvBlocks());
    s.put("kvBlockSizeTokens", p.kvBlockSizeTokens());
    s.put("maxRunningSequences", p.maxRunningSequences());
    s.put("maxBatchTokens", p.maxBatchTokens());
    s.put("maxWaitingRequests", p.maxWaitingRequests());
    s.put("maxModelLen", p.maxModelLen());
    s.put("prefixCaching", p.prefixCaching());
    s.put("loadAsync", p.loadAsync());
    s.put("shutdownTimeout", String.valueOf(p.shutdownTimeout()));
    s.put("apiKeys", p.apiKeys().size());
    s.put("cache", Map.of("enabled", p.cache().enabled(), "maxSize", p.cache().maxSize().toString(),
        "ttl", p.cache().ttl().toString()));
    Map<String, Object> limits = new LinkedHashMap<>();
    limits.put("requestsPerMinute", p.rateLimit().requestsPerMinute());
    limits.put("requestBurst", p.rateLimit().requestBurst());
    limits.put("tokensPerMinute", p.rateLimit().tokensPerMinute());
    limits.put("tokenBurst", p.rateLimit().tokenBurst());
    limits.put("maxConcurrentRequests", p.rateLimit().maxConcurrentRequests());
    s.put("rateLimit", limits);
    s.put("server", Map.of("enabled", p.server().enabled(), "maxChoices", p.server().maxChoices(),
        "requestTimeout", String.valueOf(p.server().requestTimeout()),
        "defaultTemperature", p.server().defaultTemperature()));
    return s;
  }
}

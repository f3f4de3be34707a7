package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * The {@code autoglm} actuator endpoint: the model, the effective engine settings, the queue, KV cache usage and
 * response-cache statistics. API keys are never shown.
 */
@Endpoint(id = "autoglm")
public class AutoGLMEndpoint {
  private final AutoGLMProvider provider;
  private final AutoGLMProperties properties;

  public AutoGLMEndpoint(AutoGLMProvider provider, AutoGLMProperties properties) {
    this.provider = provider;
    this.properties = properties;
  }

  @ReadOperation
  public Map<String, Object> autoglm() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("state", provider.state().name());
    provider.failure().ifPresent(f -> out.put("error", f.toString()));
    provider.get().ifPresent(glm -> describe(glm, out));
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
    model.put("eosTokenIds", glm.eosTokenIds());
    out.put("model", model);
    EngineStats s = glm.stats();
    out.put("queue", Map.of("running", s.running(), "waiting", s.waiting()));
    out.put("kvCache", Map.of("usage", s.kvUsage(), "blocks", s.kvBlocks(), "blockSizeTokens", s.kvBlockSizeTokens(),
        "maxModelLen", s.maxModelLen()));
    out.put("engine", Map.of("steps", s.steps(), "preemptions", s.preemptions(),
        "stepMillis", s.stepNanos() / 1_000_000, "forwardMillis", s.forwardNanos() / 1_000_000));
    glm.responseCacheStats().ifPresent(r -> out.put("responseCache", Map.of("hits", r.hitCount(),
        "misses", r.missCount(), "evictions", r.evictionCount(), "hitRate", r.hitRate())));
  }

  private Map<String, Object> settings() {
    AutoGLMProperties p = properties;
    Map<String, Object> s = new LinkedHashMap<>();
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

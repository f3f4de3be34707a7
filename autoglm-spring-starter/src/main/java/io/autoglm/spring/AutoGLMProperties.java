package io.autoglm.spring;

import io.autoglm.AutoGLM;
import io.autoglm.spi.RateLimiter;
import io.autoglm.spi.RateLimits;
import io.autoglm.spi.ResponseCache;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * The autoglm.* properties: which model to serve, the engine's limits, the response cache, rate limits, API
 * keys and the HTTP server. Unset optional values leave the engine's own default in place.
 *
 * @param modelPath folder with config.json and the safetensors weights; the starter backs off while it is unset
 * @param tokenizerPath folder with the tokenizer files when they are not in the model folder
 * @param modelId the id clients send as model (default: the model folder's name)
 * @param servedModelName a name clients may send as model whatever instance serves (default: the first model's id),
 *     so requests naming it keep working across a hot swap
 * @param backend compute backend name (cpu, cuda, ...); default: the best available
 * @param kvBlocks KV cache blocks; default: sized from free memory (GPU) or 1 GiB (CPU)
 * @param kvBlockSizeTokens tokens per KV cache block
 * @param maxRunningSequences requests decoded together at most
 * @param maxBatchTokens tokens in one engine step at most (prefill chunks included)
 * @param maxWaitingRequests queued requests at most; past it a request gets 503
 * @param maxModelLen caps the context (prompt + output) below the model's max_position_embeddings
 * @param prefixCaching reuse KV blocks of shared prompt prefixes
 * @param quantization {@code fp8} or {@code int8}: weights quantized at load ({@code AutoGLM.Builder.quantization});
 *     default: as stored
 * @param kvCacheDtype {@code auto} or {@code fp8} ({@code AutoGLM.Builder.kvCacheDtype}); default auto
 * @param backendProperties backend-specific settings, e.g. {@code cuda.maxGraphs: 8}
 *     ({@code AutoGLM.Builder.backendProperty}); keys with dots need Spring's bracket form in properties files,
 *     {@code autoglm.backend-properties[cuda.maxGraphs]=8}
 * @param logPrompts let debug logs show prompt token ids (off: lengths only)
 * @param loadAsync load the model on a background thread, so the application starts (OUT_OF_SERVICE, 503) while it
 *     loads; false loads during startup and fails startup when loading fails
 * @param shutdownTimeout how long shutdown waits for in-flight requests before the engine cancels them
 * @param apiKeys bearer keys the HTTP API accepts; empty: no authentication
 */
@ConfigurationProperties("autoglm")
public record AutoGLMProperties(
    Path modelPath,
    Path tokenizerPath,
    String modelId,
    String servedModelName,
    String backend,
    Integer kvBlocks,
    @DefaultValue("16") int kvBlockSizeTokens,
    @DefaultValue("256") int maxRunningSequences,
    @DefaultValue("2048") int maxBatchTokens,
    @DefaultValue("4096") int maxWaitingRequests,
    Integer maxModelLen,
    @DefaultValue("true") boolean prefixCaching,
    String quantization,
    String kvCacheDtype,
    Map<String, String> backendProperties,
    boolean logPrompts,
    @DefaultValue("true") boolean loadAsync,
    @DefaultValue("30s") Duration shutdownTimeout,
    List<String> apiKeys,
    @DefaultValue Cache cache,
    @DefaultValue RateLimit rateLimit,
    @DefaultValue Server server) {

  public AutoGLMProperties {
    apiKeys = apiKeys == null ? List.of() : List.copyOf(apiKeys);
    backendProperties = backendProperties == null ? Map.of() : Map.copyOf(backendProperties);
    try { // the builder's own checks, at startup and naming the property, rather than when the model loads
      AutoGLM.Builder check = AutoGLM.builder();
      if (quantization != null) {
        check.quantization(quantization);
      }
      if (kvCacheDtype != null) {
        check.kvCacheDtype(kvCacheDtype);
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("autoglm." + e.getMessage().replace("kvCacheDtype", "kv-cache-dtype"));
    }
    for (int i = 0; i < apiKeys.size(); i++) {
      if (apiKeys.get(i).isBlank()) {
        throw new IllegalArgumentException("autoglm.api-keys[" + i + "] is blank: expected a non-empty key");
      }
    }
    if (shutdownTimeout.isNegative()) {
      throw new IllegalArgumentException("autoglm.shutdown-timeout (" + shutdownTimeout + ") must be >= 0");
    }
  }

  /**
   * The response cache: answers repeated deterministic requests (greedy, or seeded) without the model.
   *
   * @param enabled turn the Caffeine cache on
   * @param maxSize weight bound of the cached responses
   * @param ttl how long a response stays cached
   */
  public record Cache(boolean enabled, @DefaultValue("64MB") DataSize maxSize, @DefaultValue("10m") Duration ttl) {
    /** The cache these settings describe, when enabled. */
    public Optional<ResponseCache> toResponseCache() {
      return enabled ? Optional.of(ResponseCache.caffeine(maxSize.toBytes(), ttl)) : Optional.empty();
    }
  }

  /**
   * Token-bucket limits per caller (the API key when keys are configured, else the request's user, else
   * the client address). Unset limits are off.
   *
   * @param requestsPerMinute requests admitted per minute
   * @param requestBurst requests admitted at once (default: requestsPerMinute)
   * @param tokensPerMinute prompt + max_tokens admitted per minute (unused tokens are given back)
   * @param tokenBurst tokens admitted at once (default: tokensPerMinute)
   * @param maxConcurrentRequests requests of one caller in flight at once
   */
  public record RateLimit(Long requestsPerMinute, Long requestBurst, Long tokensPerMinute, Long tokenBurst,
      Integer maxConcurrentRequests) {
    public boolean isConfigured() {
      return requestsPerMinute != null || requestBurst != null || tokensPerMinute != null || tokenBurst != null
          || maxConcurrentRequests != null;
    }

    /** The token-bucket limiter these settings describe, when any limit is set. */
    public Optional<RateLimiter> toRateLimiter() {
      return toRateLimits().map(RateLimiter::tokenBucket);
    }

    /** The limits these settings describe, when any is set. */
    public Optional<RateLimits> toRateLimits() {
      if (!isConfigured()) {
        return Optional.empty();
      }
      RateLimits.Builder b = RateLimits.builder();
      if (requestsPerMinute != null) {
        b.requestsPerMinute(requestsPerMinute);
      }
      if (requestBurst != null) {
        b.requestBurst(requestBurst);
      }
      if (tokensPerMinute != null) {
        b.tokensPerMinute(tokensPerMinute);
      }
      if (tokenBurst != null) {
        b.tokenBurst(tokenBurst);
      }
      if (maxConcurrentRequests != null) {
        b.maxConcurrentRequests(maxConcurrentRequests);
      }
      return Optional.of(b.build());
    }
  }

  /**
   * The OpenAI-compatible HTTP API.
   *
   * @param enabled serve /v1/chat/completions, /v1/completions and /v1/models
   * @param requestTimeout a request still generating after this long finishes with finish_reason "timeout"; unset:
   *     no limit (note that requests with a timeout bypass the response cache)
   * @param maxChoices the largest n a request may ask for
   * @param defaultTemperature the temperature when a request gives none (OpenAI's default is 1)
   * @param defaultMaxTokens max_tokens of a chat request that gives neither max_tokens nor max_completion_tokens;
   *     capped at the context length minus one prompt token, and the engine stops at the end of the context
   * @param maxRequestBody the largest request body /v1/* reads; a larger one is refused with 413 before it is read
   * @param protectActuator require the API key on the actuator too (all but /health and /health/**); unset: true
   *     when api-keys are set
   * @param disconnectCheckInterval how often a pending request's connection is checked for a client that hung up
   *     (its request is then cancelled); 0 turns the check off
   */
  public record Server(@DefaultValue("true") boolean enabled, Duration requestTimeout,
      @DefaultValue("8") int maxChoices, @DefaultValue("1.0") double defaultTemperature,
      @DefaultValue("4096") int defaultMaxTokens, @DefaultValue("4MB") DataSize maxRequestBody,
      Boolean protectActuator, @DefaultValue("1s") Duration disconnectCheckInterval) {
    public Server {
      if (maxChoices < 1) {
        throw new IllegalArgumentException("autoglm.server.max-choices (" + maxChoices + ") must be >= 1");
      }
      if (requestTimeout != null && (requestTimeout.isNegative() || requestTimeout.isZero())) {
        throw new IllegalArgumentException("autoglm.server.request-timeout (" + requestTimeout + ") must be > 0");
      }
      if (defaultMaxTokens < 1) {
        throw new IllegalArgumentException("autoglm.server.default-max-tokens (" + defaultMaxTokens
            + ") must be >= 1");
      }
      if (maxRequestBody == null || maxRequestBody.toBytes() < 1) {
        throw new IllegalArgumentException("autoglm.server.max-request-body (" + maxRequestBody
            + ") must be at least 1 byte");
      }
      if (disconnectCheckInterval == null || disconnectCheckInterval.isNegative()) {
        throw new IllegalArgumentException("autoglm.server.disconnect-check-interval (" + disconnectCheckInterval
            + ") must be >= 0");
      }
    }

    /** Whether the actuator needs the API key, given the configured keys. */
    public boolean actuatorProtected(List<String> apiKeys) {
      return !apiKeys.isEmpty() && (protectActuator == null || protectActuator);
    }
  }

  /** A builder configured from these properties; cache, limiter and metrics are set by the caller. */
  public AutoGLM.Builder toBuilder() {
    if (modelPath == null) {
      throw new IllegalStateException("autoglm.model-path is not set");
    }
    return toBuilder(modelPath, modelId, tokenizerPath);
  }

  /** As {@link #toBuilder()} for another checkpoint (a hot swap): its own path, id and tokenizer. */
  public AutoGLM.Builder toBuilder(Path modelPath, String modelId, Path tokenizerPath) {
    AutoGLM.Builder b = AutoGLM.builder().modelPath(modelPath)
        .kvBlockSizeTokens(kvBlockSizeTokens)
        .maxRunningSequences(maxRunningSequences)
        .maxBatchTokens(maxBatchTokens)
        .maxWaitingRequests(maxWaitingRequests)
        .prefixCaching(prefixCaching)
        .logPrompts(logPrompts);
    if (tokenizerPath != null) {
      b.tokenizerPath(tokenizerPath);
    }
    if (modelId != null) {
      b.modelId(modelId);
    }
    if (backend != null) {
      b.backend(backend);
    }
    if (kvBlocks != null) {
      b.kvBlocks(kvBlocks);
    }
    if (maxModelLen != null) {
      b.maxModelLen(maxModelLen);
    }
    if (quantization != null) {
      b.quantization(quantization);
    }
    if (kvCacheDtype != null) {
      b.kvCacheDtype(kvCacheDtype);
    }
    backendProperties.forEach(b::backendProperty);
    return b;
  }
}

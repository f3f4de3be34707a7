package io.autoglm;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * How a model is loaded and run: every plain setting of {@link AutoGLM.Builder}, checked here. The SPIs (cache,
 * limiter, metrics, load progress) are not part of it: they are live objects, not settings.
 *
 * <p>KV blocks come from {@code kvBlocks} if present, else from the backend's free memory × {@code memoryFraction},
 * else (CPU) from {@code kvCacheBytes}, capped at what {@code maxRunningSequences × context} can use.
 *
 * @param modelPath a folder holding config.json and the safetensors weights
 * @param backendName {@code cpu}, {@code cuda}, …; empty: the available backend with the highest priority
 * @param tokenizerPath where the tokenizer files are; empty: the model folder
 * @param modelId the name requests, caches and metrics use; empty: the model folder's name
 * @param kvBlockSizeTokens tokens per KV block
 * @param kvBlocks KV blocks in all, at least 2 (block 0 is the reserved null block); empty: sized from memory
 * @param kvCacheBytes the KV budget of a backend that does not report one (CPU)
 * @param memoryFraction the share of free device memory the KV cache may take, in (0, 1]
 * @param maxRunningSequences sequences in one step at most
 * @param maxBatchTokens tokens in one step at most; longer prompts are prefilled in chunks
 * @param maxWaitingRequests queued requests at most; one more is refused with {@link OverloadedException}
 * @param maxModelLen caps the context (prompt + output) below the model's max_position_embeddings; empty: no cap
 * @param prefixCaching whether full KV blocks are shared between prompts with the same prefix
 * @param logPrompts whether debug logs may include prompt token ids (else only lengths)
 * @param tensorParallel devices each layer is split over
 * @param pipelineParallel consecutive stages the layers are split into
 * @param devices the device ordinals to use; empty: the backend's default
 * @param backendProperties backend-specific settings, passed through as given
 */
public record EngineConfig(Path modelPath, Optional<String> backendName, Optional<Path> tokenizerPath,
    Optional<String> modelId, int kvBlockSizeTokens, OptionalInt kvBlocks, long kvCacheBytes, double memoryFraction,
    int maxRunningSequences, int maxBatchTokens, int maxWaitingRequests, OptionalInt maxModelLen,
    boolean prefixCaching, boolean logPrompts, int tensorParallel, int pipelineParallel, List<Integer> devices,
    Map<String, String> backendProperties) {

  public EngineConfig {
    Objects.requireNonNull(modelPath, "modelPath");
    Objects.requireNonNull(backendName, "backendName (use Optional.empty())");
    Objects.requireNonNull(tokenizerPath, "tokenizerPath (use Optional.empty())");
    Objects.requireNonNull(modelId, "modelId (use Optional.empty())");
    Objects.requireNonNull(kvBlocks, "kvBlocks (use OptionalInt.empty())");
    Objects.requireNonNull(maxModelLen, "maxModelLen (use OptionalInt.empty())");
    positive("kvBlockSizeTokens", kvBlockSizeTokens);
    positive("maxRunningSequences", maxRunningSequences);
    positive("maxBatchTokens", maxBatchTokens);
    positive("maxWaitingRequests", maxWaitingRequests);
    positive("tensorParallel", tensorParallel);
    positive("pipelineParallel", pipelineParallel);
    if (kvBlocks.isPresent() && kvBlocks.getAsInt() < 2) {
      throw new IllegalArgumentException("kvBlocks (" + kvBlocks.getAsInt() + ") must be >= 2 (block 0 is "
          + "reserved); leave it unset to size the cache from memory");
    }
    if (kvCacheBytes <= 0) {
      throw new IllegalArgumentException("kvCacheBytes (" + kvCacheBytes + ") must be > 0");
    }
    if (!(memoryFraction > 0 && memoryFraction <= 1)) {
      throw new IllegalArgumentException("memoryFraction (" + memoryFraction + ") must be in (0, 1]");
    }
    if (maxModelLen.isPresent() && maxModelLen.getAsInt() < 1) {
      throw new IllegalArgumentException("maxModelLen (" + maxModelLen.getAsInt() + ") must be >= 1 tokens");
    }
    if (modelId.isPresent() && modelId.get().isBlank()) {
      throw new IllegalArgumentException("modelId (\"" + modelId.get() + "\") must not be blank");
    }
    if (backendName.isPresent() && backendName.get().isBlank()) {
      throw new IllegalArgumentException("backendName (\"" + backendName.get() + "\") must not be blank");
    }
    devices = List.copyOf(devices);
    backendProperties = Map.copyOf(backendProperties);
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " (" + value + ") must be >= 1");
    }
  }

  /** The id requests and metrics name this model by: {@link #modelId()}, else the model folder's name. */
  public String effectiveModelId() {
    return modelId.orElseGet(() -> modelPath.getFileName().toString());
  }

  /** The context length asked for: {@link #maxModelLen()} capped at the model's own, in tokens. */
  public int contextTokens(int maxPositionEmbeddings) {
    return Math.min(maxPositionEmbeddings, maxModelLen.orElse(Integer.MAX_VALUE));
  }

  /** Whether the model is split over several devices. */
  public boolean sharded() {
    return tensorParallel * pipelineParallel > 1;
  }
}

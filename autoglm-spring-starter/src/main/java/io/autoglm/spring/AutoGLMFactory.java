package io.autoglm.spring;

import io.autoglm.AutoGLM;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Builds an engine the way the starter built the serving one (autoglm.* settings, the application's response
 * cache, rate limiter, meters and {@link AutoGLMBuilderCustomizer}s) for another checkpoint: what a hot swap loads.
 */
@FunctionalInterface
public interface AutoGLMFactory {
  /**
   * @param modelPath the checkpoint folder
   * @param modelId the new instance's id; null: the folder's name
   * @param tokenizerPath where its tokenizer is when not in the folder; null: autoglm.tokenizer-path, else the folder
   */
  AutoGLM create(Path modelPath, @Nullable String modelId, @Nullable Path tokenizerPath);
}

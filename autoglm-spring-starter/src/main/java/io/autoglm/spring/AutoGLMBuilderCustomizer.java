package io.autoglm.spring;

import io.autoglm.AutoGLM;

/**
 * Adjusts the {@link AutoGLM.Builder} the starter configured from {@code autoglm.*} before it loads the model
 * (backend properties, devices, a load-progress listener, ...). Beans of this type run in {@code @Order}.
 */
@FunctionalInterface
public interface AutoGLMBuilderCustomizer {
  void customize(AutoGLM.Builder builder);
}

package io.autoglm.spring;

import io.autoglm.AutoGLM;

/**
 * Adjusts the {@link AutoGLM.Builder} the starter configured from {@code autoglm.*} before it loads the model
 * (backend properties, devices, a load-progress listener, ...). Beans of this type run in {@code @Order}. Each
 * builder setting may be given once: a customizer sets what the {@code autoglm.*} properties leave unset (the
 * engine sizes and {@code model-path} are always set from them); setting one again throws
 * {@link IllegalStateException} naming it.
 */
@FunctionalInterface
public interface AutoGLMBuilderCustomizer {
  void customize(AutoGLM.Builder builder);
}

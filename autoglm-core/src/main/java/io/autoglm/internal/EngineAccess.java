package io.autoglm.internal;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.SamplingParams;
import io.autoglm.model.ModelConfig;
import io.autoglm.tokenizer.GlmTokenizer;
import java.util.List;

/**
 * What AutoGLM's own modules (the testkit, the Spring starter, the CUDA tools) may do with a loaded model beyond
 * its public API. {@link AutoGLM} installs the one implementation when its class initialises (the JDK's
 * shared-secrets pattern), so the public type keeps no such methods. The package is exported only to those modules.
 */
public final class EngineAccess {
  /** The operations granted. */
  public interface Grant {
    /**
     * Queues {@code prompt} outside the rate limiter and the response cache, keeping the logits of every
     * position it computes; read them with {@link #takeCapturedLogits} once the handle's result is done.
     */
    GenerationHandle submitCapturingLogits(AutoGLM glm, int[] prompt, SamplingParams params);

    /** The logits a capturing request kept, one row per computed position in position order; removes them. */
    List<float[]> takeCapturedLogits(AutoGLM glm, String requestId);

    /** The engine's tokenizer. @throws IllegalStateException when the model folder has none */
    GlmTokenizer tokenizer(AutoGLM glm);

    /** The engine thread's time per step phase, summed over its steps so far (host overhead benchmarks). */
    io.autoglm.sched.StepClock.Phases enginePhases(AutoGLM glm);

    /** The model's full configuration. */
    ModelConfig modelConfig(AutoGLM glm);
  }

  private static volatile Grant grant;

  private EngineAccess() {}

  /** Called once, by AutoGLM's static initialiser. */
  public static void install(Grant g) {
    if (grant != null) {
      throw new IllegalStateException("EngineAccess is already installed (by " + grant.getClass().getName() + ")");
    }
    grant = g;
  }

  /** The grant; any loaded model has initialised AutoGLM, so it is there whenever a model is. */
  public static Grant get() {
    Grant g = grant;
    if (g == null) {
      try {
        Class.forName(AutoGLM.class.getName(), true, AutoGLM.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException("AutoGLM is not loadable: " + e, e);
      }
      g = grant;
    }
    return g;
  }
}

package io.autoglm;

import io.autoglm.internal.EngineAccess;
import io.autoglm.model.ModelConfig;
import io.autoglm.tokenizer.GlmTokenizer;
import java.util.List;

/** The one {@link EngineAccess.Grant}: package-private members of this package, handed to AutoGLM's own modules. */
final class InternalAccess implements EngineAccess.Grant {
  private InternalAccess() {}

  static void install() {
    EngineAccess.install(new InternalAccess());
  }

  @Override
  public GenerationHandle submitCapturingLogits(AutoGLM glm, int[] prompt, SamplingParams params) {
    return glm.requests().enqueueCapturing(prompt, params);
  }

  @Override
  public List<float[]> takeCapturedLogits(AutoGLM glm, String requestId) {
    return glm.requests().takeCapturedLogits(requestId);
  }

  @Override
  public GlmTokenizer tokenizer(AutoGLM glm) {
    return glm.glmTokenizer();
  }

  @Override
  public io.autoglm.sched.StepClock.Phases enginePhases(AutoGLM glm) {
    return glm.enginePhases();
  }

  @Override
  public ModelConfig modelConfig(AutoGLM glm) {
    return glm.modelConfig();
  }
}

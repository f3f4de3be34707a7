package io.autoglm.springai;

import io.autoglm.AutoGLM;
import io.autoglm.EngineStats;
import io.autoglm.testkit.SmallEngine;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/** The engine this module's tests run: the testkit's {@link SmallEngine} under the id {@value #MODEL_ID}. */
final class TestEngine {
  static final String MODEL_ID = "glm-test";

  private TestEngine() {}

  static AutoGLM start() {
    return SmallEngine.start(MODEL_ID);
  }

  static Path fixtures() {
    return SmallEngine.fixtures();
  }

  static Path checkpointPath() {
    return SmallEngine.checkpoint();
  }

  static EngineStats awaitIdle(AutoGLM glm, double idleKvUsage) throws InterruptedException {
    return SmallEngine.awaitIdle(glm, idleKvUsage);
  }

  static void await(BooleanSupplier condition) throws InterruptedException {
    SmallEngine.await(condition);
  }
}

package io.autoglm.cuda.tools;

import java.nio.file.Path;

/** Lets the GPU tests run the verification that {@code CudaBench verify} runs. */
public final class CudaBenchAccess {
  private CudaBenchAccess() {}

  /** True when every dense fixture passes; prints one line per check. */
  public static boolean verify(Path fixtureModels) {
    return CudaBench.Verify.run(fixtureModels);
  }
}

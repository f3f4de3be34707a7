package io.autoglm.cuda.tools;

import java.nio.file.Path;

/**
 * {@code DIR [MODEL]}: writes the benchmarks' fast random checkpoint ({@link FastRandomCheckpoint}, glm-4-9b-chat
 * shapes unless MODEL is glm-4-32b-0414) to DIR, for the device's {@code serve} stage. Compiled by
 * tools/cuda-bundle-serve.sh against autoglm-cuda's jar (same package: the writer is package-private).
 */
public final class WriteRandomCheckpoint {
  private WriteRandomCheckpoint() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args.length > 2) {
      throw new IllegalArgumentException("usage: WriteRandomCheckpoint DIR [glm-4-9b-chat|glm-4-32b-0414], not "
          + String.join(" ", args));
    }
    long t0 = System.nanoTime();
    FastRandomCheckpoint.write(Path.of(args[0]), FastRandomCheckpoint.config(args.length > 1 ? args[1]
        : "glm-4-9b-chat"));
    System.out.printf("wrote %s in %.1f s%n", args[0], (System.nanoTime() - t0) / 1e9);
  }
}

package io.autoglm.examples.cli;

import io.autoglm.SamplingParams;
import picocli.CommandLine.Option;

/** Sampling flags. */
final class SamplingOptions {
  @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens to generate at most (default ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-k", defaultValue = "0", description = "0 = off (default ${DEFAULT-VALUE}).")
  int topK;

  @Option(names = "--top-p", defaultValue = "1", description = "1 = off (default ${DEFAULT-VALUE}).")
  double topP;

  @Option(names = "--seed", description = "Seed for sampling.")
  Long seed;

  @Option(names = "--ignore-eos", description = "Keep generating past eos tokens.")
  boolean ignoreEos;

  SamplingParams params() {
    SamplingParams.Builder b = SamplingParams.builder().maxNewTokens(maxTokens).temperature(temperature).topK(topK)
        .topP(topP).ignoreEos(ignoreEos);
    if (seed != null) {
      b.seed(seed);
    }
    return b.build();
  }
}

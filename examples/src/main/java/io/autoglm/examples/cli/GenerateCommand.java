package io.autoglm.examples.cli;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationResult;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Generates from token ids. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate tokens from a prompt.")
final class GenerateCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;
  @Mixin SamplingOptions sampling;

  @Option(names = "--prompt-ids", split = ",", required = true, description = "Prompt token ids, e.g. 1,2,3.")
  List<Integer> promptIds;

  @Override
  public Integer call() {
    try (AutoGLM glm = engine.builder().build()) {
      GenerationResult r = glm.generate(promptIds, sampling.params());
      System.out.println(r.tokenIds());
      System.err.printf("finish_reason=%s prompt_tokens=%d completion_tokens=%d%n", r.finishReason().openAiName(),
          r.usage().promptTokens(), r.usage().completionTokens());
      return 0;
    }
  }
}

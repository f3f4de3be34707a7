package io.autoglm.examples.cli;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.TextRequest;
import io.autoglm.TokenEvent;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Generates from token ids (prints the ids) or from text (streams the text). */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = "Generate from --prompt-ids (prints the generated ids) or --prompt (streams the text).")
final class GenerateCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;
  @Mixin SamplingOptions sampling;

  @ArgGroup(multiplicity = "1")
  Prompt prompt;

  static final class Prompt {
    @Option(names = "--prompt-ids", split = ",", description = "Prompt token ids, e.g. 1,2,3.")
    List<Integer> ids;

    @Option(names = "--prompt", description = "Prompt text (needs a tokenizer in the model folder or --tokenizer).")
    String text;
  }

  @Option(names = "--stop", description = "Stop string (repeatable; text prompts).")
  List<String> stop = List.of();

  @Option(names = "--metrics", description = "Print a Prometheus scrape of the meters after the run.")
  boolean metrics;

  @Override
  public Integer call() {
    PrometheusMeterRegistry registry = metrics ? new PrometheusMeterRegistry(PrometheusConfig.DEFAULT) : null;
    AutoGLM.Builder builder = engine.builder();
    if (registry != null) {
      builder.meterRegistry(registry);
    }
    try (AutoGLM glm = builder.build()) {
      GenerationResult r;
      if (prompt.ids != null) {
        r = glm.generate(prompt.ids, sampling.params());
        System.out.println(r.tokenIds());
      } else {
        GenerationHandle h = glm.submit(TextRequest.completion(prompt.text,
            sampling.params().toBuilder().stop(stop).build()));
        for (TokenEvent e : h.blockingTokens()) {
          System.out.print(e.text());
          System.out.flush();
        }
        System.out.println();
        r = h.result().join();
      }
      System.err.printf("finish_reason=%s prompt_tokens=%d completion_tokens=%d%n", r.finishReason().openAiName(),
          r.usage().promptTokens(), r.usage().completionTokens());
      if (registry != null) {
        System.out.print(registry.scrape());
      }
      return 0;
    }
  }
}

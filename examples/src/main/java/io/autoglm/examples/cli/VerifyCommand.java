package io.autoglm.examples.cli;

import io.autoglm.AutoGLM;
import io.autoglm.testkit.Conformance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Compares a checkpoint's logits with transformers' (the fixtures' reference.safetensors). */
@Command(name = "verify", mixinStandardHelpOptions = true,
    description = "Check logits and greedy tokens against DIR/reference.safetensors; exits 1 above the tolerance.")
final class VerifyCommand implements Callable<Integer> {
  @Mixin EngineOptions engine;

  @Option(names = "--tolerance", defaultValue = "1e-4", description = "Max |Δlogit| allowed (default ${DEFAULT-VALUE}).")
  double tolerance;

  @Option(names = "--concurrent", defaultValue = "1",
      description = "Requests in flight at once: the prompts are repeated and interleaved with staggered arrivals.")
  int concurrent;

  @Option(names = "--reference", description = "Reference file (default: MODEL/reference.safetensors).")
  Path reference;

  @Override
  public Integer call() {
    if (concurrent < 1) {
      throw new IllegalArgumentException("--concurrent (" + concurrent + ") must be >= 1");
    }
    Path ref = reference != null ? reference : engine.model.resolve("reference.safetensors");
    if (!Files.isRegularFile(ref)) {
      System.err.println("no reference file at " + ref);
      return 2;
    }
    try (AutoGLM glm = engine.builder().build()) {
      int prompts = io.autoglm.testkit.ReferenceSet.load(ref).prompts().size();
      int repeats = Math.max(1, (concurrent + 2 * prompts - 1) / (2 * prompts));
      Conformance.Report report = Conformance.run(glm, ref, tolerance, repeats, concurrent > 1 ? 20 : 0, 42);
      for (Conformance.PromptReport p : report.prompts()) {
        System.out.printf(Locale.ROOT, "p%d tokens=%d max_abs_logit_diff=%.3e decode_max_abs_logit_diff=%.3e "
                + "greedy_agree=%d/%d (first near-tie at %d)%n", p.index(), p.promptTokens(), p.maxAbsLogitDiff(),
            p.decodeMaxAbsLogitDiff(), p.greedyAgreed(), p.greedySteps(), p.comparableSteps());
      }
      System.out.printf(Locale.ROOT, "backend=%s requests=%d tolerance=%.1e result=%s%n", glm.backendName(),
          report.prompts().size() * 2, tolerance, report.passed() ? "PASS" : "FAIL");
      System.out.printf(Locale.ROOT, "max_abs_logit_diff=%.6e%n", report.maxAbsLogitDiff());
      return report.passed() ? 0 : 1;
    }
  }
}

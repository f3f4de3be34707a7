package io.autoglm.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.autoglm.AutoGLM;
import io.autoglm.Fixtures;
import io.autoglm.backend.BackendOptions;
import io.autoglm.testkit.Conformance;
import io.autoglm.testkit.ReferenceSet;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * bf16 and int8 weights against transformers' fp32 logits, through the engine, on each kernel level this CPU has:
 * the relative logit error ‖Δ‖/‖ref‖ over each prompt's positions and its teacher-forced greedy steps, the max
 * |Δlogit|, and greedy agreement (the testkit's Conformance: generated tokens equal to the reference up to the
 * first reference step whose top-1/top-2 margin is below the stated max |Δlogit| bound). Each line is printed, so
 * the test output is the accuracy report docs/cpu.md quotes.
 */
class AccuracyTest {
  @ParameterizedTest(name = "{0} {1} {2}")
  @CsvSource({
      "glm-tiny, none, avx512", "glm4-tiny, none, avx512", "glm4-tiny-bf16, none, avx512",
      "glm-tiny, int8, avx512", "glm4-tiny, int8, avx512", "glm4-tiny-bf16, int8, avx512",
      "glm-tiny, none, avx2", "glm4-tiny, none, avx2", "glm4-tiny-bf16, none, avx2",
      "glm-tiny, int8, avx2", "glm4-tiny, int8, avx2", "glm4-tiny-bf16, int8, avx2",
      "glm-tiny, none, scalar", "glm4-tiny, none, scalar", "glm4-tiny-bf16, none, scalar",
      "glm-tiny, int8, scalar", "glm4-tiny, int8, scalar", "glm4-tiny-bf16, int8, scalar"})
  void logitsAndGreedyTokensMatchTheReference(String fixture, String quantization, String level) {
    assumeTrue(new NativeCpuBackendProvider().isAvailable(), new NativeCpuBackendProvider()::unavailableReason);
    assumeTrue(NativeCpuBackendProvider.levelAvailable(level), () -> "this CPU lacks kernel level " + level);
    Path dir = Fixtures.root().resolve("models").resolve(fixture);
    boolean int8 = quantization.equals("int8");
    boolean storedBf16 = fixture.endsWith("bf16");
    double relBound = int8 ? ContractBounds.INT8_REFERENCE : storedBf16 ? 1e-2 : 2e-2;
    double absBound = int8 ? ContractBounds.INT8_MAX_ABS : ContractBounds.BF16_MAX_ABS;
    try (AutoGLM glm = AutoGLM.builder().modelPath(dir).backend(NativeCpuBackendProvider.NAME).kvBlocks(128)
        .backendProperty(BackendOptions.QUANTIZATION, quantization).backendProperty(CpuSettings.LEVEL, level)
        .build()) {
      ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
      Conformance.Report report = Conformance.run(glm, dir.resolve("reference.safetensors"), absBound, 1, 0, 42);
      for (ReferenceSet.Prompt p : ref.prompts()) {
        double rel = relativeError(Conformance.teacherForcedLogits(glm, p.teacherForced()), p);
        Conformance.PromptReport r = report.prompts().get(p.index());
        System.out.printf(Locale.ROOT, "accuracy %s %s %s p%d tokens=%d rel_logit_error=%.3e "
                + "max_abs_logit_diff=%.3e "
                + "greedy_agree=%d/%d comparable=%d%n", fixture, int8 ? "int8" : "bf16", level, p.index(), r.promptTokens(),
            rel, r.maxAbsLogitDiff(), r.greedyAgreed(), r.greedySteps(), r.comparableSteps());
        assertTrue(rel <= relBound, String.format("%s %s p%d: ‖Δ‖/‖ref‖ %.3g > %.3g", fixture, quantization,
            p.index(), rel, relBound));
        assertTrue(r.greedyOk(), String.format("%s %s p%d: %d greedy tokens agree before the first difference, %d "
            + "reference steps have a margin >= %.3g", fixture, quantization, p.index(), r.greedyAgreed(),
            r.comparableSteps(), absBound));
      }
      assertTrue(report.maxAbsLogitDiff() <= absBound, String.format("%s %s: max |Δlogit| %.3g > %.3g", fixture,
          quantization, report.maxAbsLogitDiff(), absBound));
    }
  }

  /** ‖got − want‖ / ‖want‖ over the prompt's positions and the greedy steps (rows of the teacher-forced run). */
  private static double relativeError(List<float[]> got, ReferenceSet.Prompt p) {
    int t = p.inputIds().length;
    double diff = 0;
    double norm = 0;
    for (int r = 0; r < got.size(); r++) {
      float[] want = r < t ? p.logits()[r] : p.greedyLogits()[r - t + 1];
      for (int c = 0; c < want.length; c++) {
        double d = got.get(r)[c] - want[c];
        diff += d * d;
        norm += (double) want[c] * want[c];
      }
    }
    return Math.sqrt(diff / norm);
  }
}

package io.autoglm;

import io.autoglm.testkit.Conformance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.testkit.ReferenceSet;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every fixture, dense and MoE, shared and this module's own, matches transformers' logits (≤ 1e-4) through the
 * engine: alone, and with 16 requests in flight arriving staggered (what {@code verify --concurrent 16} runs: each
 * prompt twice, teacher-forced and generated, over two repeats).
 */
class ConformanceTest {
  @ParameterizedTest
  @ValueSource(strings = {"glm-tiny", "glm4-tiny", "glm4-tiny-bf16", "glm4-gqa24-bf16", "glm4moe-tiny",
      "glm4moe-variant-tiny", "glm4moe-gqa12", "glm4moe-grouped-ties"})
  void matchesTransformers(String name) {
    check(name, 1, 0);
  }

  @ParameterizedTest
  @ValueSource(strings = {"glm4-tiny-bf16", "glm4-gqa24-bf16", "glm4moe-variant-tiny", "glm4moe-gqa12",
      "glm4moe-grouped-ties"})
  void matchesTransformersWith16RequestsInFlight(String name) {
    check(name, 2, 20);
  }

  private static void check(String name, int repeats, long maxArrivalDelayMillis) {
    Path ref = Fixtures.model(name).resolve("reference.safetensors");
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model(name)).kvBlocks(256).build()) {
      Conformance.Report report = Conformance.run(glm, ref, 1e-4, repeats, maxArrivalDelayMillis, 42);
      report.prompts().forEach(p -> System.out.println(name + " " + p));
      System.out.printf("%s repeats %d: max |Δlogit| %.3g%n", name, repeats, report.maxAbsLogitDiff());
      assertTrue(report.maxAbsLogitDiff() <= 1e-4, name + ": max |Δlogit| " + report.maxAbsLogitDiff());
      assertTrue(report.passed(), report.toString());
      assertEquals(repeats * ReferenceSet.load(ref).prompts().size(), report.prompts().size());
      assertEquals(0, glm.stats().running());
    }
  }
}

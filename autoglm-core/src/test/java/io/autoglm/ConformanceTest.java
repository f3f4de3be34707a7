package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every dense fixture matches transformers' logits (≤ 1e-4) through the engine, alone and concurrently. */
class ConformanceTest {
  @ParameterizedTest
  @ValueSource(strings = {"glm-tiny", "glm4-tiny", "glm4-tiny-bf16"})
  void matchesTransformers(String name) {
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model(name)).kvBlocks(64).build()) {
      Conformance.Report report = Conformance.run(glm, Fixtures.model(name).resolve("reference.safetensors"),
          1e-4, 1, 0, 1);
      report.prompts().forEach(p -> System.out.println(name + " " + p));
      assertTrue(report.maxAbsLogitDiff() <= 1e-4, "max |Δlogit| " + report.maxAbsLogitDiff());
      assertTrue(report.passed(), report.toString());
      assertEquals(4, report.prompts().size());
      assertEquals(0, glm.stats().running());
    }
  }
}

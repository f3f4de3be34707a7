package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The same seed gives the same tokens; different seeds give different tokens at temperature 1. */
class SeededSamplingTest {
  private static AutoGLM glm;

  @BeforeAll
  static void load() {
    glm = AutoGLM.builder().modelPath(Fixtures.model("glm4-tiny")).kvBlocks(64).build();
  }

  @AfterAll
  static void close() {
    glm.close();
  }

  private static List<Integer> sample(long seed, int topK, double topP) {
    SamplingParams p = SamplingParams.builder().maxNewTokens(24).temperature(1.0).topK(topK).topP(topP).seed(seed)
        .ignoreEos(true).build();
    return glm.generate(List.of(5, 17, 42, 99), p).tokenIds();
  }

  @Test
  void sameSeedSameTokens() {
    assertEquals(sample(7, 0, 1.0), sample(7, 0, 1.0));
    assertEquals(sample(7, 50, 0.9), sample(7, 50, 0.9));
  }

  @Test
  void differentSeedsDiffer() {
    assertNotEquals(sample(1, 0, 1.0), sample(2, 0, 1.0));
  }

  @Test
  void topKOneIsGreedy() {
    List<Integer> greedy = glm.generate(List.of(5, 17, 42, 99),
        SamplingParams.builder().maxNewTokens(24).ignoreEos(true).build()).tokenIds();
    assertEquals(greedy, sample(3, 1, 1.0));
  }
}

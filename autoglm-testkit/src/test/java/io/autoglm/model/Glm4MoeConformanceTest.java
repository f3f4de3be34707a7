package io.autoglm.model;

import io.autoglm.testkit.ReferenceSet;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.Fixtures;
import io.autoglm.backend.cpu.DjlCpuBackend;
import io.autoglm.safetensors.Checkpoint;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GLM4-MoE on the CPU backend against transformers' own fp32 outputs: the shared {@code glm4moe-tiny} fixture
 * (n_group 1, norm_topk_prob, 1 shared expert, no q/k norm) and {@code glm4moe-variant-tiny} from the test
 * resources (q/k norms, n_group 4 / topk_group 2, norm_topk_prob off, 2 shared experts; see
 * {@code tools/make_moe_variant_fixture.py}), {@code glm4moe-gqa12} (12 query heads per KV head, head_dim 32) and
 * {@code glm4moe-grouped-ties} (routing decided by exact ties and the -inf mask of dropped groups; see
 * {@code tools/make_fixtures_17.py}). Every prompt is teacher-forced through its greedy continuation, fed
 * whole or in chunks 7 + 1 + rest over the paged KV cache with block sizes 1, 16 and 256; prompt rows are compared
 * with the reference prompt logits and the rows from T-1 on with the greedy-step logits.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Glm4MoeConformanceTest {
  static final double TOLERANCE = 1e-4;
  private DjlCpuBackend backend;

  static Path fixture(String name) {
    return Fixtures.model(name);
  }

  @BeforeAll
  void start() {
    backend = new DjlCpuBackend();
  }

  @AfterAll
  void stop() {
    backend.close();
  }

  static List<Arguments> cases() {
    return List.of(
        Arguments.of("glm4moe-tiny", 16, new int[] {}),
        Arguments.of("glm4moe-tiny", 1, new int[] {7, 1}),
        Arguments.of("glm4moe-tiny", 16, new int[] {7, 1}),
        Arguments.of("glm4moe-tiny", 256, new int[] {7, 1}),
        Arguments.of("glm4moe-variant-tiny", 16, new int[] {}),
        Arguments.of("glm4moe-variant-tiny", 1, new int[] {7, 1}),
        Arguments.of("glm4moe-variant-tiny", 256, new int[] {7, 1}),
        Arguments.of("glm4moe-gqa12", 16, new int[] {}),
        Arguments.of("glm4moe-gqa12", 1, new int[] {7, 1}),
        Arguments.of("glm4moe-grouped-ties", 16, new int[] {}),
        Arguments.of("glm4moe-grouped-ties", 1, new int[] {7, 1}),
        Arguments.of("glm4moe-grouped-ties", 256, new int[] {7, 1}));
  }

  @ParameterizedTest(name = "{0} block {1} chunks {2}")
  @MethodSource("cases")
  void teacherForcedLogitsMatchTransformers(String name, int blockSize, int[] chunks) {
    Path dir = fixture(name);
    ModelConfig c = ModelConfig.load(dir);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      GlmModel m = GlmModel.load(c, ckpt, backend, LoadProgress.none());
      for (ReferenceSet.Prompt p : ReferenceSet.load(dir.resolve("reference.safetensors")).prompts()) {
        int t = p.inputIds().length;
        int g = p.greedy().length;
        float[][] got = StepRunner.chunked(m, backend, p.teacherForced(), blockSize, chunks);
        double prompt = StepRunner.maxDiff(got, 0, p.logits(), 0, t);
        double greedy = StepRunner.maxDiff(got, t - 1, p.greedyLogits(), 0, g);
        System.out.printf("%s block %d chunks %s p%d (T=%d): prompt max|Δ| %.3g, greedy max|Δ| %.3g%n", name,
            blockSize, java.util.Arrays.toString(chunks), p.index(), t, prompt, greedy);
        assertTrue(prompt <= TOLERANCE, name + " p" + p.index() + " prompt logits differ by " + prompt);
        assertTrue(greedy <= TOLERANCE, name + " p" + p.index() + " greedy logits differ by " + greedy);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void allPromptsInOneBatchedStepMatch(String name) {
    Path dir = fixture(name);
    ModelConfig c = ModelConfig.load(dir);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      GlmModel m = GlmModel.load(c, ckpt, backend, LoadProgress.none());
      List<ReferenceSet.Prompt> prompts = ReferenceSet.load(dir.resolve("reference.safetensors")).prompts();
      List<float[][]> got = StepRunner.batched(m, backend,
          prompts.stream().map(ReferenceSet.Prompt::inputIds).toList(), 16);
      for (int i = 0; i < prompts.size(); i++) {
        double d = StepRunner.maxDiff(got.get(i), 0, prompts.get(i).logits(), 0, prompts.get(i).inputIds().length);
        System.out.printf("%s batched p%d: max|Δ| %.3g%n", name, i, d);
        assertTrue(d <= TOLERANCE, name + " batched p" + i + " differs by " + d);
      }
    }
  }

  static List<String> fixtures() {
    return List.of("glm4moe-tiny", "glm4moe-variant-tiny", "glm4moe-gqa12", "glm4moe-grouped-ties");
  }
}

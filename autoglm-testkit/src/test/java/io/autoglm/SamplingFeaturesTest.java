package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.testkit.ReferenceSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Logprobs, logit bias and penalties through the engine on the glm4-tiny fixture (fp32 CPU path), against the
 * logits transformers recorded and against reference formulas applied to the engine's own captured logits.
 */
class SamplingFeaturesTest {
  private static final ReferenceSet REF = ReferenceSet.load(
      Fixtures.model("glm4-tiny").resolve("reference.safetensors"));
  private static AutoGLM glm;

  @BeforeAll
  static void load() {
    glm = AutoGLM.builder().modelPath(Fixtures.model("glm4-tiny")).kvBlocks(128).build();
  }

  @AfterAll
  static void close() {
    glm.close();
  }

  private static List<Integer> ids(int[] a) {
    return Arrays.stream(a).boxed().toList();
  }

  @Test
  void greedyLogprobsAreTheLogSoftmaxOfTheRecordedLogits() {
    for (ReferenceSet.Prompt p : REF.prompts()) {
      SamplingParams params = SamplingParams.builder().maxNewTokens(24).ignoreEos(true).logprobs(5).build();
      GenerationHandle h = glm.submit(ids(p.inputIds()), params);
      List<TokenEvent> events = new ArrayList<>();
      h.blockingTokens().forEach(events::add);
      GenerationResult r = AutoGLM.await(h);
      assertEquals(r.tokenIds().size(), r.logprobs().size());
      for (int s = 0; s < 24 && p.margin(s) > 1e-3 && r.tokenIds().get(s) == p.greedy()[s]; s++) {
        float[] ref = p.greedyLogits()[s];
        double lse = logSumExp(ref);
        GenerationResult.TokenLogprobs lp = r.logprobs().get(s);
        assertEquals(p.greedy()[s], lp.tokenId());
        assertEquals(ref[p.greedy()[s]] - lse, lp.logprob(), 1e-4, "prompt " + p.index() + " step " + s);
        assertEquals(5, lp.top().size());
        assertEquals(lp.tokenId(), lp.top().get(0).tokenId(), "greedy is the top-1");
        for (int k = 0; k < 5; k++) {
          GenerationResult.TokenLogprobs.Candidate c = lp.top().get(k);
          assertEquals(ref[c.tokenId()] - lse, c.logprob(), 1e-4);
          assertTrue(c.logprob() <= 0 && (k == 0 || c.logprob() <= lp.top().get(k - 1).logprob()));
        }
      }
      for (int i = 0; i < r.tokenIds().size(); i++) {
        assertEquals(Optional.of(r.logprobs().get(i)), events.get(i).logprobs(), "event " + i);
      }
    }
  }

  @Test
  void noLogprobsUnlessAsked() {
    GenerationResult r = glm.generate(List.of(5, 6, 7), SamplingParams.greedy(4));
    assertTrue(r.logprobs().isEmpty());
  }

  @Test
  void logitBiasOfAHundredOnOneIdGivesOnlyThatIdAtTemperatureZero() {
    for (int target : new int[] {9, 100, 383}) {
      SamplingParams params = SamplingParams.builder().maxNewTokens(12).ignoreEos(true)
          .logitBias(Map.of(target, 100f)).build();
      GenerationResult r = glm.generate(List.of(5, 17, 42), params);
      assertEquals(java.util.Collections.nCopies(12, target), r.tokenIds(), "bias on " + target);
    }
  }

  @Test
  void logitBiasOutsideTheVocabularyIsRefused() {
    int vocab = glm.config().vocabSize();
    SamplingParams params = SamplingParams.builder().logitBias(Map.of(vocab, 1f)).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> glm.submit(List.of(5), params));
    assertTrue(e.getMessage().contains("logitBias") && e.getMessage().contains(String.valueOf(vocab)),
        e.getMessage());
  }

  @Test
  void badValuesNameTheField() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().presencePenalty(2.5)
        .build()).getMessage().contains("presencePenalty (2.5)"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().frequencyPenalty(-3)
        .build()).getMessage().contains("frequencyPenalty (-3.0)"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().repetitionPenalty(0)
        .build()).getMessage().contains("repetitionPenalty (0.0)"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().minP(1.5)
        .build()).getMessage().contains("minP (1.5)"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().logprobs(21)
        .build()).getMessage().contains("logprobs (21"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder()
        .logitBias(Map.of(3, 101f)).build()).getMessage().contains("3 -> 101.0"));
  }

  /**
   * Greedy decoding with all three penalties picks, at every step, the argmax of the reference formulas applied to
   * the logits the engine computes for that prefix (captured by a teacher-forced run over prompt + output).
   */
  @Test
  void penalizedGreedyIsTheArgmaxOfTheReferencePenalties() {
    for (ReferenceSet.Prompt p : REF.prompts()) {
      SamplingParams params = SamplingParams.builder().maxNewTokens(20).ignoreEos(true).repetitionPenalty(1.4)
          .frequencyPenalty(0.6).presencePenalty(0.3).build();
      List<Integer> out = glm.generate(ids(p.inputIds()), params).tokenIds();
      int[] forced = new int[p.inputIds().length + out.size()];
      System.arraycopy(p.inputIds(), 0, forced, 0, p.inputIds().length);
      for (int i = 0; i < out.size(); i++) {
        forced[p.inputIds().length + i] = out.get(i);
      }
      GenerationHandle h = io.autoglm.internal.EngineAccess.get().submitCapturingLogits(glm, forced,
          SamplingParams.builder().maxNewTokens(1).ignoreEos(true).build());
      h.result().join();
      List<float[]> logits = io.autoglm.internal.EngineAccess.get().takeCapturedLogits(glm, h.requestId());
      Set<Integer> seen = new HashSet<>(ids(p.inputIds()));
      Map<Integer, Integer> counts = new HashMap<>();
      int checked = 0;
      for (int s = 0; s < out.size(); s++) {
        float[] x = logits.get(p.inputIds().length - 1 + s).clone();
        for (int id : seen) {
          x[id] = x[id] < 0 ? x[id] * 1.4f : x[id] / 1.4f;
        }
        counts.forEach((id, c) -> x[id] = x[id] - c * 0.6f - 0.3f);
        int[] top2 = top2(x);
        if (x[top2[0]] - x[top2[1]] > 1e-4) {
          assertEquals(top2[0], (int) out.get(s), "prompt " + p.index() + " step " + s);
          checked++;
        }
        seen.add(out.get(s));
        counts.merge(out.get(s), 1, Integer::sum);
      }
      assertTrue(checked >= 15, "prompt " + p.index() + ": only " + checked + " steps without a near-tie");
      assertTrue(new HashSet<>(out).size() > 1, "penalties make the output vary: " + out);
    }
  }

  private static int[] top2(float[] x) {
    int a = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[a]) {
        a = i;
      }
    }
    int b = a == 0 ? 1 : 0;
    for (int i = 0; i < x.length; i++) {
      if (i != a && x[i] > x[b]) {
        b = i;
      }
    }
    return new int[] {a, b};
  }

  private static double logSumExp(float[] x) {
    double m = Double.NEGATIVE_INFINITY;
    for (float v : x) {
      m = Math.max(m, v);
    }
    double s = 0;
    for (float v : x) {
      s += Math.exp(v - m);
    }
    return m + Math.log(s);
  }
}

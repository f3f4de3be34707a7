package io.autoglm.sample;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.Fixtures;
import io.autoglm.GenerationResult;
import io.autoglm.backend.RowProcessing;
import io.autoglm.backend.SamplingRow;
import io.autoglm.testkit.ReferenceSet;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The host's penalties, bias and min-p against straightforward implementations of transformers' and OpenAI's
 * formulas, on the logits transformers recorded for the glm4-tiny fixture; logprobs against log-softmax.
 */
class LogitProcessingTest {
  private static final ReferenceSet REF = ReferenceSet.load(
      Fixtures.model("glm4-tiny").resolve("reference.safetensors"));

  /** transformers' RepetitionPenaltyLogitsProcessor: gather the input ids' scores, scale, scatter back. */
  private static float[] repetitionReference(float[] scores, int[] inputIds, float penalty) {
    float[] out = scores.clone();
    for (int id : inputIds) {
      float s = scores[id]; // gathered from the unpenalized scores: a repeated id is penalized once
      out[id] = s < 0 ? s * penalty : s / penalty;
    }
    return out;
  }

  /** OpenAI's: mu[j] - c[j] * frequency - (c[j] > 0) * presence, c over the generated tokens. */
  private static float[] openAiReference(float[] logits, int[] generated, float presence, float frequency) {
    Map<Integer, Integer> counts = new HashMap<>();
    for (int id : generated) {
      counts.merge(id, 1, Integer::sum);
    }
    float[] out = logits.clone();
    counts.forEach((id, c) -> out[id] = out[id] - c * frequency - presence);
    return out;
  }

  private static SamplingRow row(float temperature, RowProcessing p) {
    return new SamplingRow(temperature, 0, 1, 3, 0, Integer.MAX_VALUE, Optional.empty(), Optional.of(p));
  }

  private static TokenCounts counts(int[] prompt, int[] generated, boolean trackPrompt) {
    TokenCounts c = TokenCounts.of(prompt, trackPrompt);
    for (int id : generated) {
      c.addGenerated(id);
    }
    return c;
  }

  @Test
  void penaltiesEqualTheReferenceFormulasAtEveryRecordedGreedyStep() {
    int checked = 0;
    for (ReferenceSet.Prompt p : REF.prompts()) {
      for (int s = 0; s < p.greedyLogits().length; s++) {
        int[] generated = Arrays.copyOf(p.greedy(), s);
        int[] all = new int[p.inputIds().length + s];
        System.arraycopy(p.inputIds(), 0, all, 0, p.inputIds().length);
        System.arraycopy(generated, 0, all, p.inputIds().length, s);
        float[] logits = p.greedyLogits()[s];
        // transformers' order: repetition over prompt + output; then OpenAI's over the output
        float[] want = openAiReference(repetitionReference(logits, all, 1.3f), generated, 0.4f, 0.7f);
        RowProcessing rp = new RowProcessing(0.4f, 0.7f, 1.3f, 0, new int[0], new float[0],
            counts(p.inputIds(), generated, true), -1);
        float[] got = LogitProcessing.adjusted(logits, logits.length, row(0, rp));
        for (int i = 0; i < want.length; i++) {
          assertEquals(want[i], got[i], 1e-5f * Math.max(1, Math.abs(want[i])), "prompt " + p.index() + " step " + s
              + " id " + i);
        }
        assertEquals(Sampler.argmax(want), Sampler.sample(logits, row(0, rp)), "greedy pick, step " + s);
        checked++;
      }
    }
    assertEquals(4 * 24, checked);
  }

  @Test
  void repetitionPenaltyAloneTouchesPromptAndOutputIdsOnly() {
    ReferenceSet.Prompt p = REF.prompts().get(3);
    float[] logits = p.greedyLogits()[5];
    int[] generated = Arrays.copyOf(p.greedy(), 5);
    int[] all = java.util.stream.IntStream.concat(Arrays.stream(p.inputIds()), Arrays.stream(generated)).toArray();
    RowProcessing rp = new RowProcessing(0, 0, 0.8f, 0, new int[0], new float[0],
        counts(p.inputIds(), generated, true), -1);
    float[] got = LogitProcessing.adjusted(logits, logits.length, row(0, rp));
    assertArrayEquals(repetitionReference(logits, all, 0.8f), got, 1e-6f);
    Set<Integer> seen = new HashSet<>();
    Arrays.stream(all).forEach(seen::add);
    for (int i = 0; i < logits.length; i++) {
      if (!seen.contains(i)) {
        assertEquals(logits[i], got[i], 0f, "id " + i + " is in neither the prompt nor the output");
      }
    }
  }

  @Test
  void logitBiasAddsAndAHundredWinsGreedy() {
    float[] logits = REF.prompts().get(2).greedyLogits()[0];
    int target = Sampler.argmax(logits) == 7 ? 8 : 7;
    RowProcessing rp = new RowProcessing(0, 0, 1, 0, new int[] {target, 11}, new float[] {100, -5}, new TokenCounts(),
        -1);
    float[] got = LogitProcessing.adjusted(logits, logits.length, row(0, rp));
    assertEquals(logits[target] + 100, got[target], 1e-4f);
    assertEquals(logits[11] - 5, got[11], 1e-5f);
    assertEquals(target, Sampler.sample(logits, row(0, rp)));
  }

  @Test
  void minPKeepsExactlyTheIdsAboveTheFractionOfTheTopProbability() {
    Random random = new Random(5);
    for (int trial = 0; trial < 200; trial++) {
      float[] logits = REF.prompts().get(trial % 4).greedyLogits()[trial % 24];
      float t = 0.3f + random.nextFloat() * 1.5f;
      float minP = random.nextFloat() * 0.5f;
      RowProcessing rp = new RowProcessing(0, 0, 1, minP, new int[0], new float[0], new TokenCounts(), -1);
      SamplingRow r = new SamplingRow(t, 0, 1, trial, trial, Integer.MAX_VALUE, Optional.empty(), Optional.of(rp));
      double max = Arrays.stream(toDouble(logits)).max().orElseThrow();
      int pick = Sampler.sample(logits, r);
      double ratio = Math.exp((logits[pick] - max) / t); // p(pick) / p(top) after temperature
      assertTrue(ratio >= minP * (1 - 1e-5), "trial " + trial + ": picked " + pick + " at ratio " + ratio
          + " below minP " + minP);
    }
  }

  @Test
  void minPOfOneIsGreedy() {
    for (int s = 0; s < 24; s++) {
      float[] logits = REF.prompts().get(1).greedyLogits()[s];
      RowProcessing rp = new RowProcessing(0, 0, 1, 1, new int[0], new float[0], new TokenCounts(), -1);
      assertEquals(Sampler.argmax(logits), Sampler.sample(logits, new SamplingRow(1.5f, 0, 1, s, s,
          Integer.MAX_VALUE, Optional.empty(), Optional.of(rp))));
    }
  }

  @Test
  void logprobsAreTheLogSoftmaxSortedTopWithTheGreedyIdFirst() {
    for (ReferenceSet.Prompt p : REF.prompts()) {
      for (int s = 0; s < p.greedyLogits().length; s++) {
        float[] logits = p.greedyLogits()[s];
        int greedy = Sampler.argmax(logits);
        GenerationResult.TokenLogprobs lp = LogitProcessing.logprobs(logits, logits.length, greedy, 20);
        double lse = logSumExp(logits);
        assertEquals(logits[greedy] - lse, lp.logprob(), 1e-5);
        assertEquals(20, lp.top().size());
        assertEquals(greedy, lp.top().get(0).tokenId(), "greedy is the top-1");
        Integer[] order = sortedIds(logits);
        for (int k = 0; k < 20; k++) {
          GenerationResult.TokenLogprobs.Candidate c = lp.top().get(k);
          assertEquals((int) order[k], c.tokenId(), "rank " + k);
          assertEquals(logits[c.tokenId()] - lse, c.logprob(), 1e-5);
          assertTrue(c.logprob() <= 0);
          if (k > 0) {
            assertTrue(c.logprob() <= lp.top().get(k - 1).logprob());
          }
        }
      }
    }
  }

  @Test
  void logprobsOfAllIdsSumToOne() {
    float[] logits = REF.prompts().get(0).greedyLogits()[3];
    int n = 20;
    GenerationResult.TokenLogprobs lp = LogitProcessing.logprobs(logits, n, 0, n); // the first 20 columns as a whole vocabulary
    double total = lp.top().stream().mapToDouble(c -> Math.exp(c.logprob())).sum();
    assertEquals(1.0, total, 1e-5);
  }

  @Test
  void topIdsKeepTheLowerIdOnTies() {
    float[] row = {1, 3, 3, 2, 3, 0};
    assertArrayEquals(new int[] {1, 2, 4, 3}, LogitProcessing.topIds(row, row.length, 4));
    assertArrayEquals(new int[0], LogitProcessing.topIds(row, row.length, 0));
  }

  @Test
  void maskedIdsAreNeverPickedWithPenaltiesOn() {
    float[] logits = REF.prompts().get(3).greedyLogits()[0];
    long[] mask = new long[(logits.length + 63) / 64];
    int[] allowed = {17, 200, 383};
    for (int id : allowed) {
      mask[id >>> 6] |= 1L << (id & 63);
    }
    RowProcessing rp = new RowProcessing(1, 1, 1.2f, 0.05f, new int[] {5}, new float[] {100}, counts(new int[] {17},
        new int[] {17, 200}, true), -1);
    for (int seed = 0; seed < 100; seed++) {
      int pick = Sampler.sample(logits, new SamplingRow(1, 0, 1, seed, 0, Integer.MAX_VALUE, Optional.of(mask),
          Optional.of(rp)));
      assertTrue(pick == 17 || pick == 200 || pick == 383, "seed " + seed + " picked " + pick);
    }
  }

  private static Integer[] sortedIds(float[] logits) {
    Integer[] order = new Integer[logits.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
    return order;
  }

  private static double logSumExp(float[] x) {
    double m = Arrays.stream(toDouble(x)).max().orElseThrow();
    return m + Math.log(Arrays.stream(toDouble(x)).map(v -> Math.exp(v - m)).sum());
  }

  private static double[] toDouble(float[] x) {
    double[] d = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      d[i] = x[i];
    }
    return d;
  }
}

package io.autoglm.sample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.SamplingRow;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The sampler against a naive reference ordering and against the softmax it draws from. */
class SamplerTest {
  /**
   * A second implementation of the rule, by sorting: top-k keeps every id whose logit is at least the k-th largest,
   * top-p the fewest highest logit values whose mass reaches topP (ties at the cut kept), and the draw walks the kept
   * ids in id order.
   */
  private static int naive(float[] logits, float temperature, int topK, float topP, double u01) {
    int n = logits.length;
    Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
    java.util.Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -logits[i]));
    float max = logits[order[0]];
    double[] w = new double[n];
    for (int i = 0; i < n; i++) {
      w[i] = Math.exp((logits[i] - max) * (1.0 / temperature));
    }
    float floor = topK > 0 && topK < n ? logits[order[topK - 1]] : Float.NEGATIVE_INFINITY;
    double z = 0;
    for (int i = 0; i < n; i++) {
      z += logits[i] >= floor ? w[i] : 0;
    }
    if (topP < 1) {
      double need = topP * z;
      double acc = 0;
      for (int r = 0; r < n; r++) {
        float v = logits[order[r]];
        if (v < floor) {
          break;
        }
        double withTies = 0;
        for (int i = 0; i < n; i++) {
          withTies += logits[i] >= v && logits[i] >= floor ? w[i] : 0;
        }
        acc = withTies;
        if (acc >= need) {
          floor = v;
          break;
        }
      }
      z = acc;
    }
    double u = u01 * z;
    double acc = 0;
    for (int i = 0; i < n; i++) {
      if (logits[i] >= floor) {
        acc += w[i];
        if (u < acc) {
          return i;
        }
      }
    }
    return order[0];
  }

  @Test
  void drawsEqualASortingImplementationOfTheSameRule() {
    Random r = new Random(3);
    float[] logits = new float[300];
    int checked = 0;
    for (int trial = 0; trial < 40; trial++) {
      for (int i = 0; i < logits.length; i++) {
        logits[i] = trial % 2 == 0 ? (float) r.nextGaussian() * 3 : r.nextInt(12) - 6; // odd trials: many ties
      }
      for (int step = 0; step < 25; step++) {
        float t = 0.5f + r.nextFloat();
        int k = new int[] {0, 1, 5, 40}[step % 4];
        float p = new float[] {1f, 0.9f, 0.5f}[step % 3];
        long seed = r.nextLong();
        assertEquals(naive(logits, t, k, p, Sampler.uniform(seed, step)),
            Sampler.sample(logits, new SamplingRow(t, k, p, seed, step)),
            "trial " + trial + " step " + step + " T " + t + " k " + k + " p " + p);
        checked++;
      }
    }
    assertEquals(1000, checked);
  }

  @Test
  void drawsFollowTheSoftmaxAndTopPCutsTheTail() {
    float[] logits = {2f, 1f, 0f, -1f};
    double[] p = new double[4];
    double z = 0;
    for (int i = 0; i < 4; i++) {
      p[i] = Math.exp(logits[i]);
      z += p[i];
    }
    int[] counts = new int[4];
    int draws = 40_000;
    for (int step = 0; step < draws; step++) {
      counts[Sampler.sample(logits, new SamplingRow(1f, 0, 1f, 11, step))]++;
    }
    for (int i = 0; i < 4; i++) {
      assertEquals(p[i] / z, counts[i] / (double) draws, 0.01, "token " + i);
    }
    // softmax = 0.644, 0.237, 0.087, 0.032: top-p 0.85 keeps tokens 0 and 1 only (0.881 >= 0.85)
    int[] cut = new int[4];
    for (int step = 0; step < draws; step++) {
      cut[Sampler.sample(logits, new SamplingRow(1f, 0, 0.85f, 11, step))]++;
    }
    assertEquals(0, cut[2] + cut[3]);
    assertEquals(p[0] / (p[0] + p[1]), cut[0] / (double) draws, 0.01);
    assertTrue(cut[1] > 0);
  }

  @Test
  void idsAtOrPastTheVocabLimitAreNeverPicked() {
    float[] logits = new float[64];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = i >= 40 ? 10f + i : (float) Math.sin(i); // the best ids all lie past the limit
    }
    float[] allowed = java.util.Arrays.copyOf(logits, 40);
    org.junit.jupiter.api.Assertions.assertEquals(Sampler.argmax(allowed),
        Sampler.sample(logits, new SamplingRow(0f, 0, 1f, 0, 0, 40)));
    for (int step = 0; step < 500; step++) {
      SamplingRow row = new SamplingRow(1.5f, 0, 1f, 3, step, 40);
      org.junit.jupiter.api.Assertions.assertEquals(Sampler.sample(allowed, new SamplingRow(1.5f, 0, 1f, 3, step)),
          Sampler.sample(logits, row), "the same draw as over the allowed ids alone");
    }
  }

  @Test
  void aMaskedRowSamplesAsIfDisallowedLogitsWereMinusInfinity() {
    Random r = new Random(19);
    for (int trial = 0; trial < 200; trial++) {
      float[] logits = new float[300];
      for (int i = 0; i < logits.length; i++) {
        logits[i] = (float) r.nextGaussian() * 3;
      }
      long[] mask = new long[(logits.length + 63) / 64];
      float[] reference = logits.clone();
      int allowed = 1 + r.nextInt(trial % 3 == 0 ? 3 : 200);
      java.util.Set<Integer> ids = new java.util.HashSet<>();
      while (ids.size() < allowed) {
        ids.add(r.nextInt(260)); // ids >= vocabLimit (250) stay refused even when their bit is set
      }
      for (int id : ids) {
        mask[id >>> 6] |= 1L << id;
      }
      for (int i = 0; i < reference.length; i++) {
        if (!ids.contains(i) || i >= 250) {
          reference[i] = Float.NEGATIVE_INFINITY;
        }
      }
      if (ids.stream().allMatch(i -> i >= 250)) {
        continue;
      }
      float temperature = trial % 4 == 0 ? 0f : 0.7f;
      int topK = trial % 5 == 0 ? 5 : 0;
      float topP = trial % 7 == 0 ? 0.8f : 1f;
      SamplingRow constrained = new SamplingRow(temperature, topK, topP, trial, trial, 250,
          java.util.Optional.of(mask));
      int picked = Sampler.sample(logits, constrained);
      assertTrue(ids.contains(picked) && picked < 250, "picked " + picked);
      assertEquals(Sampler.sample(reference, new SamplingRow(temperature, topK, topP, trial, trial, 250)), picked);
    }
  }
}

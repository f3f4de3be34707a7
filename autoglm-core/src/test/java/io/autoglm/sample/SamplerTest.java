package io.autoglm.sample;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.SamplingRow;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The sampler against a naive reference ordering and against the softmax it draws from. */
class SamplerTest {
  @Test
  void orderingMatchesANaiveSortWithTiesToTheLowerId() {
    Random r = new Random(3);
    float[] logits = new float[5000];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = r.nextInt(50) - 25 + (r.nextBoolean() ? 0.5f : 0f); // many ties, negatives, zero
    }
    logits[7] = -0.0f;
    int[] naive = IntStream.range(0, logits.length).boxed()
        .sorted(Comparator.<Integer>comparingDouble(i -> -logits[i]).thenComparingInt(i -> i))
        .mapToInt(Integer::intValue).toArray();
    assertArrayEquals(java.util.Arrays.copyOf(naive, 100), Sampler.descending(logits, 100));
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
}

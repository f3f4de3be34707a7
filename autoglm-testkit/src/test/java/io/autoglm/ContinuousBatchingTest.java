package io.autoglm;

import io.autoglm.testkit.Conformance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.testkit.ReferenceSet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Batching changes nothing: a prompt's logits inside 32 concurrent requests (mixed lengths, random arrivals,
 * chunked prefill sharing steps with decodes) equal its logits alone; preemption and prefix caching leave outputs
 * unchanged.
 */
class ContinuousBatchingTest {
  private static List<float[]> capture(AutoGLM glm, GenerationHandle h) {
    AutoGLM.await(h);
    return glm.requests().takeCapturedLogits(h.requestId());
  }

  private static GenerationHandle forced(AutoGLM glm, ReferenceSet.Prompt p) {
    return glm.requests().enqueueCapturing(p.teacherForced(), SamplingParams.builder().maxNewTokens(1)
        .ignoreEos(true).build());
  }

  @ParameterizedTest
  @ValueSource(strings = {"glm-tiny", "glm4-tiny", "glm4-tiny-bf16"})
  void concurrentEqualsAlone(String name) throws InterruptedException {
    ReferenceSet ref = ReferenceSet.load(Fixtures.model(name).resolve("reference.safetensors"));
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model(name)).kvBlocks(256).maxBatchTokens(48).build()) {
      List<List<float[]>> alone = new ArrayList<>();
      for (ReferenceSet.Prompt p : ref.prompts()) {
        alone.add(capture(glm, forced(glm, p)));
      }
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        order.add(i % ref.prompts().size());
      }
      Random random = new Random(11);
      Collections.shuffle(order, random);
      List<GenerationHandle> handles = new ArrayList<>();
      for (int i : order) {
        Thread.sleep(random.nextInt(4));
        handles.add(forced(glm, ref.prompts().get(i)));
      }
      for (int k = 0; k < handles.size(); k++) {
        List<float[]> got = capture(glm, handles.get(k));
        List<float[]> want = alone.get(order.get(k));
        assertEquals(want.size(), got.size());
        double max = 0;
        for (int r = 0; r < want.size(); r++) {
          max = Math.max(max, Conformance.maxAbsDiff(want.get(r), got.get(r)));
        }
        assertTrue(max <= 1e-5, name + " request " + k + ": max |Δlogit| vs alone " + max);
      }
      assertTrue(glm.stats().steps() > 0);
    }
  }

  private static List<List<Integer>> generateAll(AutoGLM glm, List<List<Integer>> prompts, int maxTokens) {
    List<GenerationHandle> hs = new ArrayList<>();
    for (List<Integer> p : prompts) {
      hs.add(glm.submit(p, SamplingParams.builder().maxNewTokens(maxTokens).ignoreEos(true).build()));
    }
    List<List<Integer>> out = new ArrayList<>();
    for (GenerationHandle h : hs) {
      out.add(AutoGLM.await(h).tokenIds());
    }
    return out;
  }

  private static List<List<Integer>> prompts(int n, int len, long seed) {
    Random r = new Random(seed);
    List<List<Integer>> ps = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      List<Integer> p = new ArrayList<>();
      for (int t = 0; t < len + r.nextInt(len); t++) {
        p.add(4 + r.nextInt(380));
      }
      ps.add(p);
    }
    return ps;
  }

  @Test
  void preemptionKeepsOutputsUnchanged() {
    List<List<Integer>> ps = prompts(8, 30, 3);
    List<List<Integer>> free;
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm4-tiny")).kvBlocks(512).build()) {
      free = generateAll(glm, ps, 40);
      assertEquals(0, glm.stats().preemptions());
    }
    // 13 usable blocks × 16 tokens = 208 slots, while 8 requests need up to 8 × 100
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm4-tiny")).kvBlocks(14).build()) {
      assertEquals(free, generateAll(glm, ps, 40));
      assertTrue(glm.stats().preemptions() > 0, "expected preemptions, got " + glm.stats());
      assertEquals(0.0, glm.stats().kvUsage());
    }
  }

  @Test
  void prefixCachingKeepsOutputsUnchanged() {
    List<Integer> shared = prompts(1, 48, 5).get(0).subList(0, 48);
    List<List<Integer>> ps = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      List<Integer> p = new ArrayList<>(shared);
      p.add(10 + i);
      p.add(20 + i);
      ps.add(p);
    }
    List<List<Integer>> off;
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm-tiny")).kvBlocks(64).prefixCaching(false)
        .build()) {
      off = generateAll(glm, ps, 12);
    }
    try (AutoGLM glm = AutoGLM.builder().modelPath(Fixtures.model("glm-tiny")).kvBlocks(64).build()) {
      GenerationResult first = glm.generate(ps.get(0), SamplingParams.builder().maxNewTokens(12).ignoreEos(true).build());
      assertEquals(off.get(0), first.tokenIds());
      List<List<Integer>> on = generateAll(glm, ps, 12);
      assertEquals(off, on);
      GenerationResult again = glm.generate(ps.get(1), SamplingParams.builder().maxNewTokens(12).ignoreEos(true).build());
      assertEquals(48, again.usage().cachedPromptTokens(), "3 full blocks of 16 tokens reused");
      assertEquals(off.get(1), again.tokenIds());
    }
  }
}

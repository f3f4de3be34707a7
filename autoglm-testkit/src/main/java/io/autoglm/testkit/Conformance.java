package io.autoglm.testkit;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.internal.EngineAccess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;

/**
 * Checks a loaded model against transformers' reference outputs (the fixtures' {@code reference.safetensors}).
 * Each prompt runs twice through the engine: teacher-forced (prompt + reference greedy tokens in one request, every
 * position's logits kept), and as a greedy generation whose tokens are compared with the reference up to the first
 * near-tie.
 */
public final class Conformance {
  private static final EngineAccess.Grant ACCESS = EngineAccess.get();

  private Conformance() {}

  /**
   * One prompt's result.
   *
   * @param maxAbsLogitDiff max |Δlogit| over the prompt's logits and the teacher-forced greedy steps
   * @param decodeMaxAbsLogitDiff max |Δlogit| of the generated steps, up to the first disagreement
   * @param greedyAgreed generated tokens equal to the reference before the first difference
   * @param comparableSteps steps before the first reference near-tie (margin below the tolerance)
   */
  public record PromptReport(int index, int promptTokens, double maxAbsLogitDiff, double decodeMaxAbsLogitDiff,
      int greedyAgreed, int comparableSteps, int greedySteps) {
    public boolean greedyOk() {
      return greedyAgreed >= comparableSteps;
    }
  }

  /** All prompts; {@link #maxAbsLogitDiff()} is the headline number. */
  public record Report(List<PromptReport> prompts, double tolerance) {
    public double maxAbsLogitDiff() {
      return prompts.stream().mapToDouble(p -> Math.max(p.maxAbsLogitDiff(), p.decodeMaxAbsLogitDiff())).max()
          .orElse(0);
    }

    public boolean passed() {
      return maxAbsLogitDiff() <= tolerance && prompts.stream().allMatch(PromptReport::greedyOk);
    }
  }

  /**
   * Runs every reference prompt {@code repeats} times, all submitted at once with staggered arrivals (random delays
   * up to {@code maxArrivalDelayMillis}), so they share steps with each other.
   */
  public static Report run(AutoGLM glm, Path referenceFile, double tolerance, int repeats, long maxArrivalDelayMillis,
      long seed) {
    ReferenceSet ref = ReferenceSet.load(referenceFile);
    Random random = new Random(seed);
    record Pending(ReferenceSet.Prompt prompt, GenerationHandle forced, GenerationHandle generated) {}
    List<Pending> pending = new ArrayList<>();
    for (int r = 0; r < repeats; r++) {
      for (ReferenceSet.Prompt p : ref.prompts()) {
        sleep(maxArrivalDelayMillis > 0 ? random.nextInt((int) maxArrivalDelayMillis + 1) : 0);
        GenerationHandle forced = ACCESS.submitCapturingLogits(glm, p.teacherForced(), SamplingParams.builder()
            .maxNewTokens(1).ignoreEos(true).build());
        GenerationHandle generated = ACCESS.submitCapturingLogits(glm, p.inputIds(), SamplingParams.builder()
            .maxNewTokens(p.greedy().length).ignoreEos(true).build());
        pending.add(new Pending(p, forced, generated));
      }
    }
    List<PromptReport> reports = new ArrayList<>();
    for (Pending pd : pending) {
      await(pd.forced());
      GenerationResult gen = await(pd.generated());
      reports.add(compare(pd.prompt(), ACCESS.takeCapturedLogits(glm, pd.forced().requestId()), gen.tokenIds(),
          ACCESS.takeCapturedLogits(glm, pd.generated().requestId()), tolerance));
    }
    return new Report(reports, tolerance);
  }

  /**
   * The logits of every position of {@code tokens} fed as one prompt (teacher-forced), through the engine: row r
   * holds the logits that predict token r + 1.
   */
  public static List<float[]> teacherForcedLogits(AutoGLM glm, int[] tokens) {
    GenerationHandle h = ACCESS.submitCapturingLogits(glm, tokens, SamplingParams.builder().maxNewTokens(1)
        .ignoreEos(true).build());
    await(h);
    return ACCESS.takeCapturedLogits(glm, h.requestId());
  }

  private static PromptReport compare(ReferenceSet.Prompt p, List<float[]> forced, List<Integer> generated,
      List<float[]> generatedLogits, double tolerance) {
    int t = p.inputIds().length;
    double max = 0;
    for (int r = 0; r < t; r++) {
      max = Math.max(max, maxAbsDiff(forced.get(r), p.logits()[r]));
    }
    for (int g = 0; g < p.greedy().length; g++) {
      max = Math.max(max, maxAbsDiff(forced.get(t - 1 + g), p.greedyLogits()[g]));
    }
    int comparable = 0;
    while (comparable < p.greedy().length && p.margin(comparable) >= tolerance) {
      comparable++;
    }
    int agreed = 0;
    double decodeMax = 0;
    while (agreed < generated.size() && agreed < p.greedy().length && generated.get(agreed) == p.greedy()[agreed]) {
      decodeMax = Math.max(decodeMax, maxAbsDiff(generatedLogits.get(t - 1 + agreed), p.greedyLogits()[agreed]));
      agreed++;
    }
    return new PromptReport(p.index(), t, max, decodeMax, agreed, comparable, p.greedy().length);
  }

  /** Waits for a request; interrupting the caller cancels it. */
  static GenerationResult await(GenerationHandle handle) {
    try {
      return handle.result().get();
    } catch (InterruptedException e) {
      handle.cancel();
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while waiting for request " + handle.requestId());
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException("request " + handle.requestId() + " failed: " + e.getCause(), e.getCause());
    }
  }

  /** Max |a[i] - b[i]| of two rows of one length. */
  public static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("logit rows differ in length: " + a.length + " vs " + b.length);
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  private static void sleep(long millis) {
    if (millis <= 0) {
      return;
    }
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.util.concurrent.CancellationException("interrupted");
    }
  }
}

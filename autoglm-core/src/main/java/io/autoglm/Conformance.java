package io.autoglm;

import io.autoglm.model.ReferenceSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * Checks a loaded model against transformers' reference outputs (the fixtures' {@code reference.safetensors}).
 * Each prompt runs twice through the engine: teacher-forced (prompt + reference greedy tokens in one request, every
 * position's logits kept), and as a greedy generation whose tokens are compared with the reference up to the first
 * near-tie.
 */
public final class Conformance {
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
        GenerationHandle forced = glm.enqueue(p.teacherForced(), SamplingParams.builder().maxNewTokens(1)
            .ignoreEos(true).build(), Optional.empty(), true);
        GenerationHandle generated = glm.enqueue(p.inputIds(), SamplingParams.builder()
            .maxNewTokens(p.greedy().length).ignoreEos(true).build(), Optional.empty(), true);
        pending.add(new Pending(p, forced, generated));
      }
    }
    List<PromptReport> reports = new ArrayList<>();
    for (Pending pd : pending) {
      AutoGLM.await(pd.forced());
      GenerationResult gen = AutoGLM.await(pd.generated());
      reports.add(compare(pd.prompt(), glm.takeCapturedLogits(pd.forced().requestId()), gen.tokenIds(),
          glm.takeCapturedLogits(pd.generated().requestId()), tolerance));
    }
    return new Report(reports, tolerance);
  }

  /**
   * The logits of every position of {@code tokens} fed as one prompt (teacher-forced), through the engine: row r
   * holds the logits that predict token r + 1.
   */
  public static List<float[]> teacherForcedLogits(AutoGLM glm, int[] tokens) {
    GenerationHandle h = glm.enqueue(tokens, SamplingParams.builder().maxNewTokens(1).ignoreEos(true).build(),
        Optional.empty(), true);
    AutoGLM.await(h);
    return glm.takeCapturedLogits(h.requestId());
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

  static double maxAbsDiff(float[] a, float[] b) {
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

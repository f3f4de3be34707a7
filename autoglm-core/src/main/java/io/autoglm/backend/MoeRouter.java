package io.autoglm.backend;

import java.util.Arrays;

/**
 * The GLM4-MoE router (transformers 5.17's {@code Glm4MoeTopkRouter.forward}, the DeepSeek-V3 scheme), and its
 * reference implementation on the host. Every backend's {@link ForwardStep#route} must choose what this chooses.
 *
 * <p>For one token's router logits (computed in fp32): scores are {@code sigmoid(logits)}; experts are chosen on
 * {@code score + correctionBias}; with several groups, each group is rated by the sum of its two best biased scores,
 * only the {@code topKGroups} best groups stay, and the experts of the other groups are masked with -inf (as
 * transformers 5.17 and DeepSeek's reference code do; transformers 4.x masked them with 0.0, which let them beat
 * negative biased scores of the kept groups); the {@code topK} best experts win. Their weights are the
 * <em>unbiased</em> scores, divided by their sum (+1e-20) when {@code normalizeTopK}, then multiplied by
 * {@code scalingFactor}.
 *
 * <p>Ties: both selections are {@code torch.topk(..., sorted=False)} on the CPU, so among equal scores this router
 * chooses exactly what torch does ({@link TorchTopK} ports its algorithm), and it reports the chosen experts in
 * torch's order, which is the order transformers' default experts implementation ({@code grouped_mm}) sums their
 * outputs in, and the order the weight sum is taken in.
 *
 * @param numExperts routed experts per layer ({@code n_routed_experts})
 * @param topK experts chosen per token ({@code num_experts_per_tok})
 * @param numGroups expert groups ({@code n_group}); experts {@code [g·E/G, (g+1)·E/G)} form group g
 * @param topKGroups groups kept per token ({@code topk_group})
 * @param normalizeTopK whether the chosen weights are divided by their sum ({@code norm_topk_prob})
 * @param scalingFactor multiplies every chosen weight ({@code routed_scaling_factor})
 */
public record MoeRouter(
    int numExperts, int topK, int numGroups, int topKGroups, boolean normalizeTopK, double scalingFactor) {

  /** Added to the weight sum before dividing, exactly as transformers does. */
  static final float NORM_EPSILON = 1e-20f;

  public MoeRouter {
    if (numExperts <= 0) {
      throw new IllegalArgumentException("n_routed_experts (" + numExperts + ") must be > 0");
    }
    if (topK <= 0 || topK > numExperts) {
      throw new IllegalArgumentException(String.format(
          "num_experts_per_tok (%d) must be in [1, n_routed_experts %d]", topK, numExperts));
    }
    if (numGroups <= 0 || numExperts % numGroups != 0) {
      throw new IllegalArgumentException(String.format(
          "n_group (%d) must be > 0 and divide n_routed_experts (%d)", numGroups, numExperts));
    }
    if (topKGroups <= 0 || topKGroups > numGroups) {
      throw new IllegalArgumentException(String.format(
          "topk_group (%d) must be in [1, n_group %d]", topKGroups, numGroups));
    }
    if (numExperts / numGroups < 2) {
      throw new IllegalArgumentException(String.format(
          "n_routed_experts (%d) / n_group (%d) must be >= 2: transformers rates each group by its two best scores",
          numExperts, numGroups));
    }
    if (topK > topKGroups * (numExperts / numGroups)) {
      throw new IllegalArgumentException(String.format(
          "num_experts_per_tok (%d) must be <= topk_group (%d) × experts per group (%d)",
          topK, topKGroups, numExperts / numGroups));
    }
    if (!(scalingFactor > 0) || Double.isInfinite(scalingFactor)) {
      throw new IllegalArgumentException("routed_scaling_factor (" + scalingFactor + ") must be finite and > 0");
    }
  }

  /**
   * One token's routing.
   *
   * @param experts (topK) chosen expert ids, in torch.topk's order (the order their outputs are summed in)
   * @param weights (topK) the weight of each chosen expert, fp32
   */
  public record Choice(int[] experts, float[] weights) {}

  /** Routes one token: {@code logits} (numExperts) fp32 router logits, {@code correctionBias} (numExperts). */
  public Choice route(float[] logits, float[] correctionBias) {
    if (logits.length != numExperts || correctionBias.length != numExperts) {
      throw new IllegalArgumentException(String.format(
          "router logits (%d) and correction bias (%d) must both have n_routed_experts (%d) entries",
          logits.length, correctionBias.length, numExperts));
    }
    float[] scores = new float[numExperts];
    float[] biased = new float[numExperts];
    for (int e = 0; e < numExperts; e++) {
      scores[e] = sigmoid(logits[e]);
      biased[e] = scores[e] + correctionBias[e];
    }
    int[] chosen = TorchTopK.largest(keepBestGroups(biased), topK);
    float[] weights = new float[topK];
    float sum = 0;
    for (int j = 0; j < topK; j++) {
      weights[j] = scores[chosen[j]];
      sum += weights[j];
    }
    float denominator = sum + NORM_EPSILON;
    float scale = (float) scalingFactor;
    for (int j = 0; j < topK; j++) {
      weights[j] = (normalizeTopK ? weights[j] / denominator : weights[j]) * scale;
    }
    Choice choice = new Choice(chosen, weights);
    Observer o = observer;
    if (o != null) {
      o.routed(logits.clone(), biased, choice);
    }
    return choice;
  }

  /** Sees every routed token, for diagnostics (comparing backends' routing decisions). */
  @FunctionalInterface
  public interface Observer {
    /**
     * @param logits the token's router logits (a copy)
     * @param biased sigmoid(logits) + correction bias: what experts are chosen on
     * @param choice what was chosen
     */
    void routed(float[] logits, float[] biased, Choice choice);
  }

  private static volatile Observer observer;

  /**
   * Installs an observer that sees every token routed by any router of this JVM, on the routing thread, in call
   * order; {@code null} removes it. For diagnostics only: it costs a copy per token while installed.
   */
  public static void observe(Observer o) {
    observer = o;
  }

  /** The biased scores with every expert outside the topKGroups best groups set to -inf. */
  private float[] keepBestGroups(float[] biased) {
    if (numGroups == 1) {
      return biased;
    }
    int size = numExperts / numGroups;
    float[] groupScores = new float[numGroups];
    for (int g = 0; g < numGroups; g++) {
      float[] group = Arrays.copyOfRange(biased, g * size, (g + 1) * size);
      int[] top = TorchTopK.largest(group, 2);
      groupScores[g] = group[top[0]] + group[top[1]];
    }
    boolean[] kept = new boolean[numGroups];
    for (int g : TorchTopK.largest(groupScores, topKGroups)) {
      kept[g] = true;
    }
    float[] out = new float[numExperts];
    for (int e = 0; e < numExperts; e++) {
      out[e] = kept[e / size] ? biased[e] : Float.NEGATIVE_INFINITY;
    }
    return out;
  }

  static float sigmoid(float x) {
    return (float) (1.0 / (1.0 + Math.exp(-x)));
  }
}

package io.autoglm.cuda;

import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.MoeWeights;

/**
 * GLM4-MoE on the device: the layer's weights stacked for grouped GEMMs, and the host half of routing.
 *
 * <p>Two routings, one plan layout. On the device ({@link MoeDeviceRouting}, {@code cuda.moeDeviceRouting}, the
 * default for steps of up to {@link MoeDeviceRouting#MAX_TOKENS} tokens): the router logits, MoeRouter's selection and
 * the plan are kernels, with no host wait, so MoE decode steps are captured as CUDA graphs. On the host (the fallback
 * and reference, and larger steps): the router logits (T, E) are computed on the device in fp32 and copied back (one
 * host wait per MoE layer); {@link #plan} chooses exactly as {@link MoeRouter#route}, sorts the (token, expert) pairs
 * by expert and the permutation is uploaded. The experts run as grouped GEMMs over runs of rows that share an expert.
 */
final class CudaMoe {
  private CudaMoe() {}

  /**
   * One MoE layer on the device.
   *
   * @param router (E, hidden) fp32, device, followed by the correction bias (E) fp32 ({@link MoeDeviceRouting#bias})
   * @param correctionBias (E) fp32, host: routing runs there
   * @param gateUp (E, 2·I, hidden) bf16, device: expert e's [gate | up] at e·2·I·hidden (e4m3 bytes with fp8)
   * @param down (E, hidden, I) bf16, device (e4m3 bytes with fp8)
   * @param fp8 the experts' scales when either stack is FP8, else null (each stack has its own form)
   */
  record Weights(long router, float[] correctionBias, long gateUp, long down, int numExperts, int intermediateSize,
      int hidden, Fp8Experts fp8) implements MoeWeights {}

  /**
   * The scales of FP8 experts: expert e's [gate | up] scales at {@code gateUp.scales() + 4·e·gateUpStride}, its
   * down scales at {@code down.scales() + 4·e·downStride} (every expert has the same layout). A stack held in bf16
   * (an FP8 checkpoint that keeps it unquantized) has null scales and stride 0.
   */
  record Fp8Experts(CudaWeight.Fp8 gateUp, long gateUpStride, CudaWeight.Fp8 down, long downStride) {
    /** Expert e's scales of one of the two stacks. */
    static CudaWeight.Fp8 of(CudaWeight.Fp8 stack, long stride, int e) {
      return new CudaWeight.Fp8(stack.scales() + 4L * stride * e, stack.sld(), stack.rowShift(), stack.colShift());
    }
  }

  /**
   * The pairs of one step sorted by expert, on the device (and, when routed on the host, the group layout also on the
   * host, for the per-expert cuBLAS path of large groups).
   *
   * @param numTokens the step's tokens
   * @param rows the rows routed: the step's physical rows (a graph step's bucket, padding included) on the device,
   *     numTokens on the host; there are rows·topK pairs
   * @param tokenOfRow (rows·topK) int32: sorted row → token
   * @param rowOfPair (rows·topK) int32: token-major pair → sorted row
   * @param pairWeight (rows·topK) fp32: token-major routing weights
   * @param expertIds (groups) int32: expert of each run of rows
   * @param offsets (groups + 1) int32: first row of each run
   * @param groups the runs a grouped kernel is launched over: the non-empty experts when routed on the host; on the
   *     device min(E, rows·topK), the worst case, the runs past the step's non-empty experts being empty
   * @param hostExpertIds expertIds on the host, or null when routed on the device
   * @param hostOffsets offsets on the host, or null when routed on the device
   * @param maxGroupRows the largest run (host routing), or -1: unknown on the host (device routing)
   */
  record Routing(int numTokens, int topK, int rows, long tokenOfRow, long rowOfPair, long pairWeight, long expertIds,
      long offsets, int groups, int[] hostExpertIds, int[] hostOffsets, int maxGroupRows) implements ExpertRouting {
    /** Whether the plan was made on the device (no host copy of the group layout). */
    boolean onDevice() {
      return hostOffsets == null;
    }
  }

  /** Host arrays of a routing, before upload. */
  record Plan(int[] tokenOfRow, int[] rowOfPair, float[] pairWeight, int[] expertIds, int[] offsets, int maxRows) {}

  /** Chooses every token's experts from its router logits (T·E, row-major) and sorts the pairs by expert. */
  static Plan plan(float[] logits, int tokens, Weights w, MoeRouter router) {
    return plan(logits, tokens, w.correctionBias(), router);
  }

  /** {@link #plan} with the correction bias given: the reference the device plan is checked against. */
  static Plan plan(float[] logits, int tokens, float[] correctionBias, MoeRouter router) {
    int e = router.numExperts();
    int k = router.topK();
    if (logits.length != tokens * e || correctionBias.length != e) {
      throw new IllegalArgumentException(String.format("plan: %d logits and %d biases for %d tokens of %d experts "
          + "(expected tokens × experts logits and one bias per expert)", logits.length, correctionBias.length, tokens,
          e));
    }
    int[] experts = new int[tokens * k];
    float[] weights = new float[tokens * k];
    float[] row = new float[e];
    for (int t = 0; t < tokens; t++) {
      System.arraycopy(logits, t * e, row, 0, e);
      MoeRouter.Choice c = router.route(row, correctionBias);
      System.arraycopy(c.experts(), 0, experts, t * k, k);
      System.arraycopy(c.weights(), 0, weights, t * k, k);
    }
    return sorted(experts, weights, e, k);
  }

  /** The plan of chosen experts (T·k, token-major) and their weights: a stable counting sort of the pairs. */
  static Plan sorted(int[] experts, float[] weights, int e, int k) {
    int[] counts = new int[e];
    for (int x : experts) {
      counts[x]++;
    }
    int groups = 0;
    int maxRows = 0;
    for (int c : counts) {
      groups += c > 0 ? 1 : 0;
      maxRows = Math.max(maxRows, c);
    }
    int[] expertIds = new int[groups];
    int[] offsets = new int[groups + 1];
    int[] start = new int[e];
    for (int x = 0, g = 0, at = 0; x < e; x++) {
      start[x] = at;
      if (counts[x] > 0) {
        expertIds[g] = x;
        offsets[g] = at;
        g++;
      }
      at += counts[x];
    }
    offsets[groups] = experts.length;
    int[] tokenOfRow = new int[experts.length];
    int[] rowOfPair = new int[experts.length];
    for (int p = 0; p < experts.length; p++) {
      int r = start[experts[p]]++;
      tokenOfRow[r] = p / k;
      rowOfPair[p] = r;
    }
    return new Plan(tokenOfRow, rowOfPair, weights, expertIds, offsets, maxRows);
  }
}

package io.autoglm.cuda;

import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.MoeWeights;

/**
 * GLM4-MoE on the device: the layer's weights stacked for grouped GEMMs, and the host half of routing.
 *
 * <p>Routing runs on the host, exactly as {@link MoeRouter#route} defines it: the router logits (T, E) are computed
 * on the device in fp32 and copied back (a small copy, and one host wait per MoE layer, which is why steps of a MoE
 * model are not captured as CUDA graphs). The host then sorts the (token, expert) pairs by expert and uploads the
 * permutation; the experts run as grouped GEMMs over runs of rows that share an expert.
 */
final class CudaMoe {
  private CudaMoe() {}

  /**
   * One MoE layer on the device.
   *
   * @param router (E, hidden) fp32, device
   * @param correctionBias (E) fp32, host: routing runs there
   * @param gateUp (E, 2·I, hidden) bf16, device: expert e's [gate | up] at e·2·I·hidden (e4m3 bytes with fp8)
   * @param down (E, hidden, I) bf16, device (e4m3 bytes with fp8)
   * @param fp8 the experts' scales when they are FP8, else null
   */
  record Weights(long router, float[] correctionBias, long gateUp, long down, int numExperts, int intermediateSize,
      int hidden, Fp8Experts fp8) implements MoeWeights {
    /** Bytes of one weight element of the experts: 1 for FP8, 2 for bf16. */
    int expertBytes() {
      return fp8 == null ? 2 : 1;
    }
  }

  /**
   * The scales of FP8 experts: expert e's [gate | up] scales at {@code gateUp.scales() + 4·e·gateUpStride}, its
   * down scales at {@code down.scales() + 4·e·downStride} (every expert has the same layout).
   */
  record Fp8Experts(CudaWeight.Fp8 gateUp, long gateUpStride, CudaWeight.Fp8 down, long downStride) {
    /** Expert e's scales of one of the two stacks. */
    static CudaWeight.Fp8 of(CudaWeight.Fp8 stack, long stride, int e) {
      return new CudaWeight.Fp8(stack.scales() + 4L * stride * e, stack.sld(), stack.rowShift(), stack.colShift());
    }
  }

  /**
   * The pairs of one step sorted by expert, on the device (and the group layout also on the host, for the
   * per-expert cuBLAS path of large groups).
   *
   * @param tokenOfRow (P) int32: sorted row → token
   * @param rowOfPair (T·topK) int32: token-major pair → sorted row
   * @param pairWeight (T·topK) fp32: token-major routing weights
   * @param expertIds (groups) int32: expert of each run of rows
   * @param offsets (groups + 1) int32: first row of each run
   */
  record Routing(int numTokens, int topK, long tokenOfRow, long rowOfPair, long pairWeight, long expertIds,
      long offsets, int[] hostExpertIds, int[] hostOffsets, int maxGroupRows) implements ExpertRouting {
    int groups() {
      return hostExpertIds.length;
    }
  }

  /** Host arrays of a routing, before upload. */
  record Plan(int[] tokenOfRow, int[] rowOfPair, float[] pairWeight, int[] expertIds, int[] offsets, int maxRows) {}

  /** Chooses every token's experts from its router logits (T·E, row-major) and sorts the pairs by expert. */
  static Plan plan(float[] logits, int tokens, Weights w, MoeRouter router) {
    int e = w.numExperts();
    int k = router.topK();
    int[] experts = new int[tokens * k];
    float[] weights = new float[tokens * k];
    float[] row = new float[e];
    for (int t = 0; t < tokens; t++) {
      System.arraycopy(logits, t * e, row, 0, e);
      MoeRouter.Choice c = router.route(row, w.correctionBias());
      System.arraycopy(c.experts(), 0, experts, t * k, k);
      System.arraycopy(c.weights(), 0, weights, t * k, k);
    }
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

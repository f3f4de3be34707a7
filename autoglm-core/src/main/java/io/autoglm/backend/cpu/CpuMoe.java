package io.autoglm.backend.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.MoeWeights;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The mixture-of-experts ops of {@link CpuForwardStep}: routing on the host (the router logits are a small (T, E)
 * copy), then the experts over the (token, expert) pairs sorted by expert, the layout a GPU runs as grouped GEMMs.
 */
final class CpuMoe {
  private CpuMoe() {}

  /**
   * A layer's router and experts in fp32.
   *
   * @param router (E, hidden)
   * @param correctionBias (E), on the host: routing runs there
   * @param gateUp per expert: (2·moeIntermediate, hidden), rows [gate | up]
   * @param down per expert: (hidden, moeIntermediate)
   */
  record Weights(NDArray router, float[] correctionBias, NDArray[] gateUp, NDArray[] down) implements MoeWeights {
    @Override
    public int numExperts() {
      return gateUp.length;
    }

    @Override
    public int intermediateSize() {
      return (int) down[0].getShape().get(1);
    }
  }

  /**
   * Routing of T tokens on the host.
   *
   * @param experts (T·topK) token-major, each token's experts in {@link MoeRouter.Choice}'s (torch.topk's) order
   * @param weights (T·topK) matching {@code experts}
   */
  record Routing(int numTokens, int topK, int[] experts, float[] weights) implements ExpertRouting {}

  static Routing route(NDArray x, MoeWeights w, MoeRouter router) {
    Weights weights = (Weights) w;
    if (router.numExperts() != weights.numExperts()) {
      throw new IllegalArgumentException(String.format(
          "router expects %d experts, layer weights hold %d", router.numExperts(), weights.numExperts()));
    }
    float[] logits = Linear.linear(x, weights.router()).singletonOrThrow().toFloatArray(); // (T, E) fp32
    int tokens = (int) x.getShape().get(0);
    int e = router.numExperts();
    int k = router.topK();
    int[] experts = new int[tokens * k];
    float[] out = new float[tokens * k];
    float[] row = new float[e];
    for (int t = 0; t < tokens; t++) {
      System.arraycopy(logits, t * e, row, 0, e);
      MoeRouter.Choice c = router.route(row, weights.correctionBias());
      System.arraycopy(c.experts(), 0, experts, t * k, k);
      System.arraycopy(c.weights(), 0, out, t * k, k);
    }
    return new Routing(tokens, k, experts, out);
  }

  /**
   * Gathers the (token, expert) pairs sorted by expert, runs each expert's MLP on its run of rows, scales the rows
   * by their weights, and sums each token's topK rows back in the token's routing order, as transformers' grouped_mm
   * experts do ({@code .view(T, topK, hidden).sum(dim=1)}, the same torch reduction).
   */
  static NDArray moe(NDManager manager, NDArray x, MoeWeights w, ExpertRouting r) {
    Weights weights = (Weights) w;
    Routing routing = (Routing) r;
    int pairs = routing.numTokens() * routing.topK();
    int[] counts = new int[weights.numExperts()];
    for (int p = 0; p < pairs; p++) {
      counts[routing.experts()[p]]++;
    }
    int[] start = new int[counts.length + 1];
    for (int e = 0; e < counts.length; e++) {
      start[e + 1] = start[e] + counts[e];
    }
    long[] tokenOfRow = new long[pairs]; // sorted row -> token
    long[] rowOfPair = new long[pairs]; // token-major pair -> sorted row
    float[] rowWeight = new float[pairs];
    int[] next = start.clone();
    for (int p = 0; p < pairs; p++) {
      int row = next[routing.experts()[p]]++;
      tokenOfRow[row] = p / routing.topK();
      rowOfPair[p] = row;
      rowWeight[row] = routing.weights()[p];
    }
    NDArray sorted = x.get(new NDIndex("{}", manager.create(tokenOfRow))); // (pairs, hidden)
    List<NDArray> outs = new ArrayList<>();
    for (int e = 0; e < counts.length; e++) {
      if (counts[e] > 0) {
        NDArray rows = sorted.get(new NDIndex(start[e] + ":" + start[e + 1]));
        outs.add(mlp(rows, weights.gateUp()[e], weights.down()[e]));
      }
    }
    NDArray y = (outs.size() == 1 ? outs.get(0) : NDArrays.concat(new NDList(outs), 0))
        .mul(manager.create(FloatBuffer.wrap(rowWeight), new Shape(pairs, 1)));
    long hidden = x.getShape().get(1);
    return y.get(new NDIndex("{}", manager.create(rowOfPair)))
        .reshape(routing.numTokens(), routing.topK(), hidden)
        .sum(new int[] {1});
  }

  /** {@code down · (silu(gate·x) * up·x)} with gateUp = [gate | up]. */
  static NDArray mlp(NDArray x, NDArray gateUp, NDArray down) {
    NDArray h = Linear.linear(x, gateUp).singletonOrThrow();
    long half = h.getShape().get(1) / 2;
    NDArray gate = h.get(new NDIndex(":, 0:" + half));
    NDArray up = h.get(new NDIndex(":, " + half + ":"));
    return Linear.linear(gate.mul(Activation.sigmoid(gate)).mul(up), down).singletonOrThrow();
  }

  /** RMSNorm over each headDim-sized group of a row: (T, heads·d) → (T, heads·d). */
  static NDArray headRmsNorm(NDArray x, int numHeads, NDArray weight, float eps) {
    Shape shape = x.getShape();
    NDArray heads = x.reshape(shape.get(0), numHeads, shape.get(1) / numHeads);
    NDArray variance = heads.square().mean(new int[] {-1}, true);
    return heads.mul(variance.add(eps).sqrt().pow(-1)).mul(weight).reshape(shape);
  }
}

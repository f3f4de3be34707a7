package io.autoglm.cuda.tools;

import io.autoglm.backend.MoeRouter;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.model.MoeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The MoE routing of {@link Fp8Check}'s runs, and the comparison of an FP8 MoE run with the CPU's dequantized
 * reference under that reference's routing.
 *
 * <p>Why: the CUDA run computes the same FP8 model with bf16 activations, so its router scores differ from the CPU's
 * fp32 ones by a small ε; where a token's top-k margin is below that, the device may pick another expert, and that
 * one expert moves the logits of its position (and, through attention, of later ones) far more than rounding does.
 * So, as {@code EngineBench conformance} does for bf16 ({@link RouteCheck}): the CPU reference's routing trace is
 * recorded at bundle time (made from the same FP8-dequantized run as the logits), the CUDA run's is recorded beside
 * its logits, a routing difference must be at a near-tie (reference margin below 2ε) or downstream of a lower
 * layer's difference, and the logits are compared on the positions no routing difference reaches. The routing
 * agreement is reported on its own line.
 */
final class Fp8Routing {
  private Fp8Routing() {}

  /** Collects every routed token (host routing and the CUDA backend's device routing) while open. */
  static final class Recorder implements AutoCloseable {
    private final List<float[]> biased = new ArrayList<>();
    private final List<int[]> chosen = new ArrayList<>();

    Recorder() {
      MoeRouter.Observer o = (l, b, c) -> {
        int[] set = c.experts().clone(); // compared as sets: backends may list the chosen experts in another order
        Arrays.sort(set);
        synchronized (biased) {
          biased.add(b.clone());
          chosen.add(set);
        }
      };
      MoeRouter.observe(o);
      CudaDiagnosticsAccess.observeDeviceRouting(o);
    }

    /**
     * The tokens routed since opened, of prompt {@code prompt} with {@code tokens} positions: from one prefill step
     * (call order layer by layer, token by token) or, with {@code perToken}, from one decode step per position
     * (call order token by token, layer by layer).
     */
    List<RouteCheck.Routed> routed(int prompt, int tokens, boolean perToken) {
      int n = biased.size();
      if (n % tokens != 0) {
        throw new IllegalStateException(String.format("prompt %d: %d routed tokens is not a multiple of its %d "
            + "positions", prompt, n, tokens));
      }
      int layers = n / tokens;
      List<RouteCheck.Routed> out = new ArrayList<>();
      for (int layer = 0; layer < layers; layer++) {
        for (int t = 0; t < tokens; t++) {
          int i = perToken ? t * layers + layer : layer * tokens + t;
          out.add(new RouteCheck.Routed(prompt, layer, t, chosen.get(i), biased.get(i)));
        }
      }
      return out;
    }

    @Override
    public void close() {
      MoeRouter.observe(null);
      CudaDiagnosticsAccess.observeDeviceRouting(null);
    }
  }

  /**
   * One FP8 MoE run against the reference under the reference's routing.
   *
   * @param routed (token, MoE layer) pairs compared
   * @param differing pairs whose chosen set differs from the reference's
   * @param nearTie differing pairs at a near-tie (reference margin below 2ε, ε the prompt's score error)
   * @param downstream differing pairs downstream of a lower layer's difference (same or earlier token)
   * @param notNearTie differing pairs that are neither: a routing error
   * @param positions teacher-forced positions
   * @param kept positions no routing difference reaches, on which the logits are compared
   * @param rel the largest ‖Δ‖/‖ref‖ of a prompt's kept positions
   * @param maxAbs the largest |Δ| there
   * @param eps the largest score error ε of a prompt
   */
  record Result(int routed, int differing, int nearTie, int downstream, int notNearTie, int positions, int kept,
      double rel, double maxAbs, double eps) {
    /** Routing agreement: every difference explained, and something left to compare. */
    boolean routingOk() {
      return notNearTie == 0 && kept > 0;
    }

    String routing() {
      return String.format(Locale.ROOT, "routing vs the CPU reference's: %d of %d (token, MoE layer) choices differ "
          + "(%d at near-ties, %d downstream of a lower layer's difference, %d not explained; ε ≤ %.2e); logits "
          + "compared on %d of %d positions", differing, routed, nearTie, downstream, notNearTie, eps, kept,
          positions);
    }
  }

  /**
   * Compares {@code got} (trace and logits of the run, per prompt) with {@code ref} (the reference's) under the
   * reference routing's reach.
   */
  static Result compare(List<RouteCheck.Routed> got, List<float[][]> gotLogits, List<RouteCheck.Routed> ref,
      List<float[][]> refLogits, MoeConfig moe) {
    int routed = 0;
    int differing = 0;
    int nearTie = 0;
    int downstream = 0;
    int notNearTie = 0;
    int positions = 0;
    int kept = 0;
    double rel = 0;
    double maxAbs = 0;
    double epsMax = 0;
    for (int p = 0; p < refLogits.size(); p++) {
      int prompt = p;
      List<RouteCheck.Routed> g = got.stream().filter(r -> r.prompt() == prompt).toList();
      List<RouteCheck.Routed> e = ref.stream().filter(r -> r.prompt() == prompt).toList();
      int tokens = refLogits.get(p).length;
      if (g.size() != e.size() || gotLogits.get(p).length != tokens) {
        throw new IllegalStateException(String.format("prompt %d: %d routed tokens and %d positions; the reference "
            + "has %d and %d", p, g.size(), gotLogits.get(p).length, e.size(), tokens));
      }
      RouteCheck.Reach reach = RouteCheck.reach(g, e, tokens);
      double eps = RouteCheck.scoreError(g, e, reach.fromBelow());
      epsMax = Math.max(epsMax, eps);
      for (int i = 0; i < g.size(); i++) {
        routed++;
        if (Arrays.equals(g.get(i).chosen(), e.get(i).chosen())) {
          continue;
        }
        differing++;
        float m = RouteCheck.margin(e.get(i).biased(), moe.numExpertsPerToken(), moe.numGroups(), moe.topKGroups());
        if (reach.fromBelow()[i]) {
          downstream++;
        } else if (m < 2 * eps) {
          nearTie++;
        } else {
          notNearTie++;
        }
      }
      boolean[] keep = new boolean[tokens];
      for (int t = 0; t < tokens; t++) {
        keep[t] = !reach.reached()[t];
        kept += keep[t] ? 1 : 0;
      }
      positions += tokens;
      float[][] r = refLogits.get(p);
      double[] d = RouteCheck.relL2(Arrays.asList(gotLogits.get(p)), t -> r[t], keep);
      rel = Math.max(rel, d[0]);
      maxAbs = Math.max(maxAbs, d[1]);
    }
    return new Result(routed, differing, nearTie, downstream, notNearTie, positions, kept, rel, maxAbs, epsMax);
  }
}

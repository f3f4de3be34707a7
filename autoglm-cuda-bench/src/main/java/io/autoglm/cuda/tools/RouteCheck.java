package io.autoglm.cuda.tools;

import io.autoglm.AutoGLM;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.testkit.Conformance;
import io.autoglm.backend.MoeRouter;
import io.autoglm.testkit.ReferenceSet;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * MoE routing, token by token, of one backend against another (the CPU backend's, which passes the fp32 reference
 * at 1e-4), and the logits per position against the fixture's fp32 reference.
 *
 * <p>Each reference prompt is fed teacher-forced (prompt + greedy continuation) as one prefill; {@link MoeRouter}'s
 * observer (and the CUDA backend's device-routing observer, which reads the device's own choices and biased scores
 * back) records every routed token in call order, i.e. MoE layer by layer, token by token. A trace line is
 * {@code prompt layer token chosen biased...} where {@code chosen} is the set of experts (ascending) and
 * {@code biased} = sigmoid(logit) + correction bias, the values experts are chosen on. The top-k margin of a token
 * is biased[k-th] − biased[(k+1)-th] of the reference.
 */
public final class RouteCheck {
  private RouteCheck() {}

  /** One routed token. */
  record Routed(int prompt, int layer, int token, int[] chosen, float[] biased) {}

  /** Records the routing and the teacher-forced logits of every prompt on {@code glm}. */
  static List<Routed> trace(AutoGLM glm, ReferenceSet ref, List<List<float[]>> logitsOut) {
    List<Routed> out = new ArrayList<>();
    for (ReferenceSet.Prompt p : ref.prompts()) {
      int[] tokens = p.teacherForced();
      List<float[]> biased = new ArrayList<>();
      List<int[]> chosen = new ArrayList<>();
      MoeRouter.Observer o = (l, b, c) -> {
        int[] set = c.experts().clone(); // ascending: backends are compared on the set chosen, not its order
        Arrays.sort(set);
        synchronized (biased) {
          biased.add(b.clone());
          chosen.add(set);
        }
      };
      MoeRouter.observe(o); // the host's routing (the CPU backend, the CUDA backend's host path)
      CudaDiagnosticsAccess.observeDeviceRouting(o); // the CUDA backend's device routing
      List<float[]> logits;
      try {
        logits = Conformance.teacherForcedLogits(glm, tokens);
      } finally {
        MoeRouter.observe(null);
        CudaDiagnosticsAccess.observeDeviceRouting(null);
      }
      logitsOut.add(logits);
      int t = tokens.length;
      if (biased.size() % t != 0) {
        throw new IllegalStateException(String.format("prompt %d: %d routed tokens is not a multiple of its %d "
            + "tokens (was it prefilled in more than one step?)", p.index(), biased.size(), t));
      }
      for (int i = 0; i < biased.size(); i++) {
        out.add(new Routed(p.index(), i / t, i % t, chosen.get(i), biased.get(i)));
      }
    }
    return out;
  }

  static void write(List<Routed> trace, Path file) {
    StringBuilder sb = new StringBuilder();
    for (Routed r : trace) {
      sb.append(r.prompt()).append(' ').append(r.layer()).append(' ').append(r.token()).append(' ');
      sb.append(String.join(",", Arrays.stream(r.chosen()).mapToObj(Integer::toString).toList()));
      for (float b : r.biased()) {
        sb.append(' ').append(Float.toString(b));
      }
      sb.append('\n');
    }
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, sb);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<Routed> read(Path file) {
    List<Routed> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.isBlank()) {
          continue;
        }
        String[] f = line.trim().split(" ");
        int[] chosen = Arrays.stream(f[3].split(",")).mapToInt(Integer::parseInt).toArray();
        float[] b = new float[f.length - 4];
        for (int i = 0; i < b.length; i++) {
          b[i] = Float.parseFloat(f[4 + i]);
        }
        out.add(new Routed(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]), chosen, b));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /**
   * How far a token's routing is from a different choice: with one group, biased[k-1] − biased[k] after sorting
   * descending (the k-th choice against the first one left out). With {@code groups} > 1 (group-limited routing:
   * experts are chosen among the {@code topkGroups} groups of the highest top-2 sums), the smaller of the expert
   * margin inside the kept groups (the vector torch.topk sees, the others at -inf) and half the margin between the
   * last kept and the first dropped group's score (a group score sums two biased values, so its error is twice a
   * value's; halving keeps one threshold, 2ε, for both).
   */
  static float margin(float[] biased, int k, int groups, int topkGroups) {
    float[] masked = biased;
    float groupMargin = Float.POSITIVE_INFINITY;
    if (groups > 1 && topkGroups < groups) {
      int size = biased.length / groups;
      float[] score = new float[groups];
      for (int g = 0; g < groups; g++) {
        float[] group = Arrays.copyOfRange(biased, g * size, (g + 1) * size);
        Arrays.sort(group);
        score[g] = group[size - 1] + (size > 1 ? group[size - 2] : 0f);
      }
      Integer[] order = new Integer[groups];
      for (int g = 0; g < groups; g++) {
        order[g] = g;
      }
      Arrays.sort(order, (a, b) -> Float.compare(score[b], score[a]));
      groupMargin = (score[order[topkGroups - 1]] - score[order[topkGroups]]) / 2;
      masked = new float[biased.length];
      Arrays.fill(masked, Float.NEGATIVE_INFINITY);
      for (int j = 0; j < topkGroups; j++) {
        int g = order[j];
        System.arraycopy(biased, g * size, masked, g * size, size);
      }
    }
    return Math.min(margin(masked, k), groupMargin);
  }

  /** biased[k-1] − biased[k] after sorting descending: how far the k-th choice is from the first one left out. */
  static float margin(float[] biased, int k) {
    float[] s = biased.clone();
    Arrays.sort(s);
    int n = s.length;
    if (k >= n || s[n - k - 1] == Float.NEGATIVE_INFINITY) {
      return Float.POSITIVE_INFINITY;
    }
    return s[n - k] - s[n - k - 1];
  }

  /** The result of one prompt. */
  record PromptResult(int prompt, int tokens, int flips, int nearTies, int firstNearTieFlip, double scoreError,
      double relAll, double relBefore, double maxAbsBefore, boolean ok) {}

  /**
   * Compares a backend's trace and logits with the reference trace and the fixture's reference logits.
   *
   * <p>Rule, stated: the score error ε of a prompt is the largest |Δbiased| over its routed tokens and experts (bf16
   * activations against fp32) that no routing difference in a lower MoE layer reaches; a token is a near-tie when
   * its reference top-k margin is below 2ε in some MoE layer. A routing difference fails unless it is at a near-tie
   * or downstream of a lower layer's difference (the same token, or a later one through attention). Logits are judged, by the fixtures README's
   * norm-relative metric ‖out − ref‖/‖ref‖ ≤ {@code rel}, on every position that a routing difference cannot
   * reach: a different expert at token t in the last MoE layer changes position t only (no attention follows), one
   * in an earlier MoE layer changes t and, through the later layers' attention, every later position (as greedy
   * tokens are compared only up to the first near-tie).
   */
  static List<PromptResult> compare(List<Routed> got, List<Routed> refTrace, ReferenceSet ref,
      List<List<float[]>> logits, int topK, int groups, int topkGroups, double rel, StringBuilder log) {
    List<PromptResult> results = new ArrayList<>();
    for (ReferenceSet.Prompt p : ref.prompts()) {
      List<Routed> g = got.stream().filter(r -> r.prompt() == p.index()).toList();
      List<Routed> e = refTrace.stream().filter(r -> r.prompt() == p.index()).toList();
      if (g.size() != e.size()) {
        throw new IllegalStateException("prompt " + p.index() + ": " + g.size() + " routed tokens, reference "
            + e.size());
      }
      results.add(comparePrompt(p, g, e, logits.get(p.index()), topK, groups, topkGroups, rel, log));
    }
    return results;
  }

  /**
   * Where one prompt's routing differences reach: {@code reached[t]}, position t's logits (its own hidden state, or a
   * later one's through attention); {@code fromBelow[i]}, routed token i sits downstream of a lower MoE layer's
   * difference, so its scores differ by more than bf16 error, by design.
   */
  record Reach(boolean[] reached, boolean[] fromBelow) {}

  static Reach reach(List<Routed> g, List<Routed> e, int tokens) {
    int lastLayer = e.stream().mapToInt(Routed::layer).max().orElse(0);
    boolean[] reached = new boolean[tokens];
    boolean[] fromBelow = new boolean[g.size()];
    for (int layer = 0; layer <= lastLayer; layer++) {
      boolean[] below = reached.clone();
      for (int i = 0; i < g.size(); i++) {
        Routed b = e.get(i);
        if (b.layer() != layer) {
          continue;
        }
        fromBelow[i] = below[b.token()];
        if (!Arrays.equals(g.get(i).chosen(), b.chosen())) {
          int until = layer == lastLayer ? b.token() + 1 : tokens;
          Arrays.fill(reached, b.token(), until, true);
        }
      }
    }
    return new Reach(reached, fromBelow);
  }

  /** ε: the score error of bf16 activations, over the routed tokens no lower-layer difference reaches. */
  static double scoreError(List<Routed> g, List<Routed> e, boolean[] fromBelow) {
    double eps = 0;
    for (int i = 0; i < g.size(); i++) {
      for (int x = 0; !fromBelow[i] && x < g.get(i).biased().length; x++) {
        eps = Math.max(eps, Math.abs(g.get(i).biased()[x] - e.get(i).biased()[x]));
      }
    }
    return eps;
  }

  static PromptResult comparePrompt(ReferenceSet.Prompt p, List<Routed> g, List<Routed> e, List<float[]> l, int topK,
      int groups, int topkGroups, double rel, StringBuilder log) {
    int tokens = p.teacherForced().length;
    Reach reach = reach(g, e, tokens);
    boolean[] reached = reach.reached();
    boolean[] fromBelow = reach.fromBelow();
    double eps = scoreError(g, e, fromBelow);
    int flips = 0;
    int nearTies = 0;
    int firstFlip = tokens;
    boolean ok = true;
    boolean[] nearTie = new boolean[tokens];
    for (int i = 0; i < g.size(); i++) {
      Routed a = g.get(i);
      Routed b = e.get(i);
      float m = margin(b.biased(), topK, groups, topkGroups);
      if (m < 2 * eps && !fromBelow[i]) {
        nearTie[b.token()] = true;
      }
      if (!Arrays.equals(a.chosen(), b.chosen())) {
        flips++;
        firstFlip = Math.min(firstFlip, b.token());
        String verdict = fromBelow[i] ? "downstream of a lower layer's routing difference"
            : m < 2 * eps ? "near-tie (margin < 2ε)" : "NOT a near-tie";
        log.append(String.format(Locale.ROOT, "  prompt %d MoE layer %d token %d: experts %s here, %s in the "
                + "reference; reference top-%d margin %.3g, score error ε %.3g: %s%n", p.index(), b.layer(),
            b.token(), Arrays.toString(a.chosen()), Arrays.toString(b.chosen()), topK, m, eps, verdict));
        ok &= fromBelow[i] || m < 2 * eps;
      }
    }
    for (boolean nt : nearTie) {
      nearTies += nt ? 1 : 0;
    }
    double[] all = relL2(l, p, tokens);
    double[] before = logitsOutsideTheReach(p, g, e, l, reached, log);
    ok &= before[0] <= rel;
    log.append(String.format(Locale.ROOT, "  prompt %d (%d tokens): %d routed tokens differ, %d near-tie tokens "
            + "(margin < 2ε, ε %.3g); logits rel-L2 all positions %.3g; on the %d positions no routing difference "
            + "reaches %.3g (max|Δ| %.4g): %s%s%n", p.index(), tokens, flips, nearTies, eps, all[0], (int) before[2],
        before[0], before[1], ok ? "PASS" : "FAIL", reachedPositions(p, l, reached)));
    return new PromptResult(p.index(), tokens, flips, nearTies, firstFlip, eps, all[0], before[0], before[1], ok);
  }

  /**
   * {rel-L2, max|Δ|, positions} of the logits on the positions no routing difference reaches; logs the same on the
   * positions whose own routing matches in every MoE layer (reached through attention included).
   */
  static double[] logitsOutsideTheReach(ReferenceSet.Prompt p, List<Routed> g, List<Routed> e, List<float[]> l,
      boolean[] reached, StringBuilder log) {
    int tokens = reached.length;
    boolean[] keep = new boolean[tokens];
    int kept = 0;
    for (int r = 0; r < tokens; r++) {
      keep[r] = !reached[r];
      kept += keep[r] ? 1 : 0;
    }
    double[] before = relL2(l, p, keep);
    boolean[] own = new boolean[tokens]; // positions whose own routing matches in every MoE layer
    Arrays.fill(own, true);
    for (int i = 0; i < g.size(); i++) {
      if (!Arrays.equals(g.get(i).chosen(), e.get(i).chosen())) {
        own[e.get(i).token()] = false;
      }
    }
    double[] ownRel = relL2(l, p, own);
    log.append(String.format(Locale.ROOT, "  prompt %d: on every position whose own routing matches (reached "
        + "through attention included): rel-L2 %.3g, max|Δ| %.4g%n", p.index(), ownRel[0], ownRel[1]));
    return new double[] {before[0], before[1], kept};
  }

  /** "; positions reached: r: rel … max|Δ| …; …" for each position a routing difference reaches, or "". */
  static String reachedPositions(ReferenceSet.Prompt p, List<float[]> l, boolean[] reached) {
    StringBuilder worst = new StringBuilder();
    for (int r = 0; r < reached.length; r++) {
      if (reached[r]) {
        double[] one = relL2(l, p, mask(reached.length, r));
        worst.append(String.format(Locale.ROOT, " %d: rel %.3g max|Δ| %.4g;", r, one[0], one[1]));
      }
    }
    return worst.length() > 0 ? "; positions reached:" + worst : "";
  }

  /** Reference logits of teacher-forced row r: the prompt's logits, then the greedy steps'. */
  static float[] refRow(ReferenceSet.Prompt p, int r) {
    int t = p.inputIds().length;
    return r < t ? p.logits()[r] : p.greedyLogits()[r - t + 1];
  }

  static boolean[] mask(int rows, int only) {
    boolean[] m = new boolean[rows];
    m[only] = true;
    return m;
  }

  /** {‖out − ref‖/‖ref‖, max|Δ|} over rows [0, rows). */
  static double[] relL2(List<float[]> got, ReferenceSet.Prompt p, int rows) {
    boolean[] all = new boolean[rows];
    Arrays.fill(all, true);
    return relL2(got, p, all);
  }

  /** {‖out − ref‖/‖ref‖, max|Δ|} over the rows r with {@code keep[r]}. */
  static double[] relL2(List<float[]> got, ReferenceSet.Prompt p, boolean[] keep) {
    return relL2(got, r -> refRow(p, r), keep);
  }

  /** {‖out − ref‖/‖ref‖, max|Δ|} over the rows r with {@code keep[r]}, row r of the reference being ref(r). */
  static double[] relL2(List<float[]> got, java.util.function.IntFunction<float[]> ref, boolean[] keep) {
    double num = 0;
    double den = 0;
    double max = 0;
    for (int r = 0; r < keep.length; r++) {
      if (!keep[r]) {
        continue;
      }
      float[] a = got.get(r);
      float[] b = ref.apply(r);
      for (int i = 0; i < a.length; i++) {
        double d = a[i] - b[i];
        num += d * d;
        den += (double) b[i] * b[i];
        max = Math.max(max, Math.abs(d));
      }
    }
    return new double[] {den == 0 ? 0 : Math.sqrt(num / den), max};
  }
}

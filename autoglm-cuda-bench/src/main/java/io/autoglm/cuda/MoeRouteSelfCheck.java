package io.autoglm.cuda;

import io.autoglm.backend.MoeRouter;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The device routing ({@link MoeDeviceRouting}: moe_route.cu's selection and plan) against the host's
 * ({@link CudaMoe#plan}, i.e. {@link MoeRouter#route}) on the same fp32 logits, for the routers of GLM-4.5-Air,
 * GLM-4.5, a DeepSeek-V3-like grouped router, the MoE fixtures' and a top-2 router (torch's heap path), at 1 to 256
 * tokens, on random logits and on logits full of exact ties.
 *
 * <p>Expected, and checked: the same set of experts for every token; for a token with an exact tie at the top-k (or
 * the top-groups) boundary, the same experts in the same (torch's) order and bit-equal weights (the device's
 * TorchTopK port); otherwise weights within 2e-6 relative (some 32 ulp) (the device sums them best first, the host in torch's
 * order); the same biased scores bit for bit; the same plan (tokenOfRow, expertIds, offsets, group count and largest
 * group), the device's groups past the step's non-empty experts empty, and rowOfPair a permutation consistent with
 * the device's own choices.
 */
public final class MoeRouteSelfCheck {
  private MoeRouteSelfCheck() {}

  /** One case's counts; {@code ok} when every check above holds. */
  public record Result(String label, int tokens, int setsEqual, int ties, int tiesExact, int biasedBitDiffs,
      double maxWeightRelDiff, boolean planEqual, boolean ok) {}

  /** Every router and token count; prints one line per case. */
  public static boolean run(CudaBackend backend) {
    MoeRouter[] routers = {
        new MoeRouter(128, 8, 1, 1, true, 1.0), // GLM-4.5-Air
        new MoeRouter(160, 8, 1, 1, true, 2.5), // GLM-4.5
        new MoeRouter(256, 8, 8, 4, true, 2.5), // DeepSeek-V3-like groups
        new MoeRouter(16, 4, 4, 2, true, 2.5), // glm4moe-grouped-ties
        new MoeRouter(8, 3, 4, 2, false, 2.5), // glm4moe-variant-tiny
        new MoeRouter(128, 2, 1, 1, true, 1.0), // k·64 <= n: torch's partial_sort path
    };
    boolean ok = true;
    SplittableRandom random = new SplittableRandom(7);
    for (MoeRouter r : routers) {
      for (int tokens : new int[] {1, 7, 64, 256}) {
        for (boolean tied : new boolean[] {false, true}) {
          Result res = check(backend, r, tokens, tied, random);
          ok &= res.ok();
          System.out.printf(Locale.ROOT, "moe route self-check %s: %d tokens: sets equal %d/%d; exact boundary ties "
                  + "%d, same order and weights there %d/%d; biased scores differing bits %d; max weight rel diff "
                  + "%.2e; plan (tokenOfRow, expertIds, offsets, groups, largest) equal %s: %s%n", res.label(),
              res.tokens(), res.setsEqual(), res.tokens(), res.ties(), res.tiesExact(), res.ties(),
              res.biasedBitDiffs(), res.maxWeightRelDiff(), res.planEqual(), res.ok() ? "PASS" : "FAIL");
        }
      }
    }
    System.out.println("moe route self-check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  /**
   * Logits (tokens, E): normal(0, 2) and a bias uniform in ±0.1, or with {@code tied} values from {0, ±0.5, ±1} and
   * a bias from {0, 0.25}, so that most tokens have exact ties at their boundary.
   */
  static float[][] logits(MoeRouter r, int tokens, boolean tied, SplittableRandom random) {
    int e = r.numExperts();
    float[] l = new float[tokens * e];
    float[] bias = new float[e];
    for (int i = 0; i < l.length; i++) {
      l[i] = tied ? 0.5f * (random.nextInt(5) - 2) : (float) (random.nextGaussian() * 2);
    }
    for (int i = 0; i < e; i++) {
      bias[i] = tied ? 0.25f * random.nextInt(2) : (float) (random.nextDouble() * 0.2 - 0.1);
    }
    return new float[][] {l, bias};
  }

  static Result check(CudaBackend backend, MoeRouter r, int tokens, boolean tied, SplittableRandom random) {
    float[][] in = logits(r, tokens, tied, random);
    String label = String.format(Locale.ROOT, "E %d top-%d groups %d/%d norm %s scale %s%s", r.numExperts(), r.topK(),
        r.numGroups(), r.topKGroups(), r.normalizeTopK(), r.scalingFactor(), tied ? " (tied logits)" : "");
    Device d = Device.run(backend, r, tokens, in[0], in[1]);
    int k = r.topK();
    int sets = 0;
    int ties = 0;
    int tiesExact = 0;
    double maxRel = 0;
    for (int t = 0; t < tokens; t++) {
      float[] row = Arrays.copyOfRange(in[0], t * r.numExperts(), (t + 1) * r.numExperts());
      MoeRouter.Choice host = r.route(row, in[1]);
      int[] dev = Arrays.copyOfRange(d.experts, t * k, (t + 1) * k);
      float[] devW = Arrays.copyOfRange(d.weights, t * k, (t + 1) * k);
      boolean tie = boundaryTie(r, Arrays.copyOfRange(d.biased, t * r.numExperts(), (t + 1) * r.numExperts()));
      int[] a = host.experts().clone();
      int[] b = dev.clone();
      Arrays.sort(a);
      Arrays.sort(b);
      sets += Arrays.equals(a, b) ? 1 : 0;
      if (tie) {
        ties++;
        tiesExact += Arrays.equals(host.experts(), dev) && Arrays.equals(host.weights(), devW) ? 1 : 0;
      }
      for (int j = 0; j < k; j++) {
        for (int i = 0; i < k; i++) {
          if (dev[i] == host.experts()[j]) {
            maxRel = Math.max(maxRel, Math.abs(devW[i] - host.weights()[j]) / Math.max(1e-30, Math.abs(
                host.weights()[j])));
          }
        }
      }
    }
    int bitDiffs = 0;
    for (int t = 0; t < tokens; t++) {
      for (int x = 0; x < r.numExperts(); x++) {
        float s = (float) (1.0 / (1.0 + Math.exp(-in[0][t * r.numExperts() + x]))) + in[1][x];
        bitDiffs += Float.floatToRawIntBits(s) != Float.floatToRawIntBits(d.biased[t * r.numExperts() + x]) ? 1 : 0;
      }
    }
    boolean plan = planEqual(CudaMoe.plan(in[0], tokens, in[1], r), d, k);
    boolean ok = sets == tokens && tiesExact == ties && maxRel <= 2e-6 && bitDiffs == 0 && plan;
    return new Result(label, tokens, sets, ties, tiesExact, bitDiffs, maxRel, plan, ok);
  }

  /** Whether the k-th and (k+1)-th masked biased scores (or the boundary group scores) are exactly equal. */
  static boolean boundaryTie(MoeRouter r, float[] biased) {
    int e = r.numExperts();
    float[] masked = biased.clone();
    boolean tie = false;
    if (r.numGroups() > 1) {
      int size = e / r.numGroups();
      float[] score = new float[r.numGroups()];
      for (int g = 0; g < r.numGroups(); g++) {
        float[] group = Arrays.copyOfRange(biased, g * size, (g + 1) * size);
        Arrays.sort(group);
        score[g] = group[size - 1] + group[size - 2];
      }
      float[] sorted = score.clone();
      Arrays.sort(sorted);
      int n = sorted.length;
      float last = sorted[n - r.topKGroups()];
      tie = r.topKGroups() < n && sorted[n - r.topKGroups() - 1] == last;
      int kept = 0;
      for (int g = 0; g < r.numGroups(); g++) { // above the boundary value; at it, the first ones (no tie: unique)
        boolean keep = score[g] > last || (score[g] == last && kept < r.topKGroups());
        kept += keep ? 1 : 0;
        for (int x = g * size; x < (g + 1) * size; x++) {
          masked[x] = keep ? biased[x] : Float.NEGATIVE_INFINITY;
        }
      }
    }
    float[] s = masked.clone();
    Arrays.sort(s);
    int k = r.topK();
    return tie || (k < e && s[e - k] == s[e - k - 1]);
  }

  /** The host plan's arrays against the device's, and rowOfPair a permutation that agrees with the device's choices. */
  static boolean planEqual(CudaMoe.Plan h, Device d, int k) {
    int groups = h.expertIds().length;
    boolean ok = Arrays.equals(h.tokenOfRow(), d.tokenOfRow) && d.meta[0] == groups && d.meta[1] == h.maxRows()
        && Arrays.equals(h.expertIds(), Arrays.copyOf(d.expertIds, groups))
        && Arrays.equals(h.offsets(), Arrays.copyOf(d.offsets, groups + 1));
    for (int g = groups; g < d.expertIds.length; g++) {
      ok &= d.expertIds[g] == 0 && d.offsets[g + 1] == d.tokenOfRow.length;
    }
    boolean[] seen = new boolean[d.rowOfPair.length];
    for (int p = 0; p < d.rowOfPair.length && ok; p++) {
      int row = d.rowOfPair[p];
      ok = row >= 0 && row < seen.length && !seen[row] && d.tokenOfRow[row] == p / k;
      if (ok) {
        seen[row] = true;
        int g = 0;
        while (d.offsets[g + 1] <= row) {
          g++;
        }
        ok = d.expertIds[g] == d.experts[p];
      }
    }
    return ok;
  }

  /** The device's routing of one set of logits, read back. */
  record Device(int[] experts, float[] weights, float[] biased, int[] tokenOfRow, int[] rowOfPair, int[] expertIds,
      int[] offsets, int[] meta) {
    static Device run(CudaBackend backend, MoeRouter r, int tokens, float[] logits, float[] bias) {
      long ctx = backend.diagnostics().ctx();
      List<Long> held = new ArrayList<>();
      try {
        java.util.function.LongUnaryOperator alloc = bytes -> {
          long p = CudaNative.malloc(ctx, Math.max(bytes, 256));
          held.add(p);
          return p;
        };
        long l = alloc.applyAsLong(4L * logits.length);
        long b = alloc.applyAsLong(4L * bias.length);
        long biased = alloc.applyAsLong(4L * logits.length);
        long meta = alloc.applyAsLong(8);
        CudaNative.uploadFloats(ctx, l, logits);
        CudaNative.uploadFloats(ctx, b, bias);
        MoeDeviceRouting.Buffers buf = MoeDeviceRouting.Buffers.allocate(alloc, tokens, r);
        MoeDeviceRouting.launch(ctx, l, b, tokens, r, buf, biased, meta);
        int pairs = tokens * r.topK();
        return new Device(ints(backend, buf.experts(), pairs), floats(backend, buf.weights(), pairs),
            floats(backend, biased, logits.length), ints(backend, buf.tokenOfRow(), pairs),
            ints(backend, buf.rowOfPair(), pairs), ints(backend, buf.expertIds(), buf.maxGroups()),
            ints(backend, buf.offsets(), buf.maxGroups() + 1), ints(backend, meta, 2));
      } finally {
        CudaNative.synchronize(ctx);
        held.forEach(p -> CudaNative.free(ctx, p));
      }
    }

    private static ByteBuffer read(CudaBackend backend, long src, int n) {
      long ctx = backend.diagnostics().ctx();
      ByteBuffer host = backend.readback(4L * n);
      CudaNative.copyAsync(ctx, CudaNative.address(host), src, 4L * n);
      CudaNative.synchronize(ctx);
      return host;
    }

    static int[] ints(CudaBackend backend, long src, int n) {
      int[] out = new int[n];
      read(backend, src, n).asIntBuffer().get(out);
      return out;
    }

    static float[] floats(CudaBackend backend, long src, int n) {
      float[] out = new float[n];
      read(backend, src, n).asFloatBuffer().get(out);
      return out;
    }
  }
}

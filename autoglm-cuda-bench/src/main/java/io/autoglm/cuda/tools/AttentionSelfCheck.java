package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaSelfTests;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The attention kernels' self-check grid, against a double-precision CPU reference on random data
 * ({@link CudaBackend#selfTestAttention}): every number of query heads per KV head from 1 to 64 (over 2 KV heads) ×
 * every head dim a GLM-family or tiny test model uses, in the step shapes small-batch decode, batched decode with
 * graph-style splits, chunked prefill and one split; the shape with more splits than the kernel merges itself for
 * a subset of ratios; a few other KV-head counts. Prints the kernel each shape runs, and those of the real models'
 * shapes.
 */
final class AttentionSelfCheck {
  static final int[] HEAD_DIMS = {16, 32, 64, 80, 96, 128, 256};
  static final int MAX_GROUP = 64;
  private static final String[] MODES = {"decode of 3 (contexts 1-300), 5 splits", "batched decode (rows × KV heads"
      + " >= 32), graph splits", "chunked prefill (34 rows)", "one split (5 rows)", "282 splits (context 9,000)"};
  private static final int[] LONG_GROUPS = {1, 3, 12, 16, 24, 64}; // mode 4 (context 9,000) costs the most

  private AttentionSelfCheck() {}

  static boolean run(CudaBackend backend) {
    printModelKernels(backend);
    boolean ok = true;
    for (int headDim : HEAD_DIMS) {
      for (int mode = 0; mode < MODES.length; mode++) {
        List<Integer> groups = new ArrayList<>();
        if (mode == 4) {
          for (int g : LONG_GROUPS) {
            groups.add(g);
          }
        } else {
          for (int g = 1; g <= MAX_GROUP; g++) {
            groups.add(g);
          }
        }
        ok &= line(backend, headDim, mode, groups, 2);
      }
    }
    for (int[] shape : new int[][] {{1, 1}, {4, 1}, {96, 8}, {12, 4}, {40, 8}}) { // {query heads, KV heads}
      for (int headDim : new int[] {64, 128}) {
        for (int mode = 0; mode < 4; mode++) {
          ok &= line(backend, headDim, mode, List.of(shape[0] / shape[1]), shape[1]);
        }
      }
    }
    System.out.println("attention self-check " + (ok ? "PASS" : "FAIL"));
    return prefill(backend) & DecodeAttnTcSelfCheck.run(backend) && ok;
  }

  private static final String[] PREFILL_CASES = {"prompt of 1 token", "prompt of 17", "prompt of 64",
      "prompt of 100", "prompt of 1,000", "prompt of 1,023", "prompt of 2,048",
      "chunk of 333 after a cached prefix of 1,167", "4 prompts/chunks in one step, blocks of 8",
      "3 prefill segments among 4 decode/short rows, blocks of 32", "prompt of 2,047, blocks of 1"};
  private static final int[] PREFILL_GROUPS_128 = {1, 2, 8, 12, 16, 96};
  private static final int[] PREFILL_GROUPS_64 = {1, 2, 8, 16};

  /**
   * The tensor-core prefill kernel against the decode kernels (verified above against the CPU reference) and, where
   * affordable, the CPU reference itself: every prefill step shape × query heads per KV head (over 2 KV heads).
   */
  static boolean prefill(CudaBackend backend) {
    int cases = CudaSelfTests.prefillCases(backend);
    if (cases != PREFILL_CASES.length) {
      throw new IllegalStateException("the native library has " + cases + " prefill self-check cases, this tool "
          + "describes " + PREFILL_CASES.length);
    }
    boolean ok = true;
    for (int headDim : new int[] {128, 64}) {
      for (int g : headDim == 128 ? PREFILL_GROUPS_128 : PREFILL_GROUPS_64) {
        System.out.printf(Locale.ROOT, "prefill attention kernel for %d query heads / 2 KV heads, headDim %d: %s%n",
            2 * g, headDim, CudaSelfTests.prefillKernel(backend, 2 * g, 2, headDim));
      }
      for (int which = 0; which < cases; which++) {
        ok &= prefillLine(backend, headDim, which, headDim == 128 ? PREFILL_GROUPS_128 : PREFILL_GROUPS_64);
      }
    }
    System.out.println("prefill attention self-check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  private static boolean prefillLine(CudaBackend backend, int headDim, int which, int[] groups) {
    double maxOld = 0;
    double worst = 0;
    double maxRef = -1;
    int rows = 0;
    int prefillRows = 0;
    List<String> failed = new ArrayList<>();
    for (int g : groups) {
      double[] r;
      try {
        r = CudaSelfTests.prefillAttention(backend, 2 * g, 2, headDim, which);
      } catch (IllegalStateException e) {
        failed.add(g + " (" + e.getMessage() + ")");
        continue;
      }
      if (r[0] != 0) {
        failed.add(String.format(Locale.ROOT, "%d (%d outside, max|Δ| %.3g)", g, (long) r[0], r[1]));
      }
      maxOld = Math.max(maxOld, r[1]);
      worst = Math.max(worst, r[2]);
      maxRef = Math.max(maxRef, r[4]);
      rows = (int) r[3];
      prefillRows = (int) r[5];
    }
    System.out.printf(Locale.ROOT, "prefill attention self-check headDim %d, %s (%d rows, %d on the prefill kernel),"
            + " per KV head %s: max|Δ| vs decode kernels %.3g (worst |Δ|/bound %.2f), vs CPU reference %s  %s%n",
        headDim, PREFILL_CASES[which], rows, prefillRows, java.util.Arrays.toString(groups), maxOld, worst,
        maxRef < 0 ? "not run (too large)" : String.format(Locale.ROOT, "%.3g", maxRef),
        failed.isEmpty() ? "PASS" : "FAIL: " + String.join(", ", failed));
    return failed.isEmpty();
  }

  /** One line per (headDim, step shape, KV heads): pass count, worst error against the bound, kernels used. */
  private static boolean line(CudaBackend backend, int headDim, int mode, List<Integer> groups, int kvHeads) {
    int pass = 0;
    double worst = 0;
    int worstGroup = 0;
    List<String> failed = new ArrayList<>();
    Map<String, List<Integer>> kernels = new TreeMap<>();
    for (int g : groups) {
      int heads = g * kvHeads;
      double[] r;
      try {
        r = CudaSelfTests.attention(backend, heads, kvHeads, headDim, mode);
      } catch (IllegalStateException e) {
        failed.add(g + " (" + e.getMessage() + ")");
        continue;
      }
      kernels.computeIfAbsent(CudaSelfTests.attentionKernel(backend, (int) r[3], heads, kvHeads, headDim),
          k -> new ArrayList<>()).add(g);
      if (r[0] == 0) {
        pass++;
      } else {
        failed.add(String.format(Locale.ROOT, "%d (%d outside, max|Δ| %.3g)", g, (long) r[0], r[1]));
      }
      if (r[2] > worst) {
        worst = r[2];
        worstGroup = g;
      }
    }
    StringBuilder k = new StringBuilder();
    kernels.forEach((name, gs) -> k.append("; ").append(name).append(" for ").append(ranges(gs)));
    System.out.printf(Locale.ROOT, "attention self-check headDim %d, %s, %d KV heads: %d/%d ratios within bound "
            + "(worst |Δ|/bound %.2f at %d per KV head)%s%s%n", headDim, MODES[mode], kvHeads, pass, groups.size(),
        worst, worstGroup, failed.isEmpty() ? "" : ", FAILED: " + String.join(", ", failed), k);
    return failed.isEmpty();
  }

  /** The kernels of the fast paths (glm-4-9b) and of the shapes of issue 17, at batch 1 and 64. */
  private static void printModelKernels(CudaBackend backend) {
    int[][] models = {{32, 2, 128}, {48, 2, 128}, {96, 8, 128}, {24, 2, 32}, {6, 1, 32}, {3, 1, 16}};
    String[] names = {"glm-4-9b", "GLM-4-32B-0414", "GLM-4.5", "12 per KV head, dim 32 (glm4moe-gqa12)",
        "6 per KV head, dim 32", "3 per KV head, dim 16"};
    for (int i = 0; i < models.length; i++) {
      int[] m = models[i];
      System.out.printf("attention kernels for %s (%d query heads / %d KV heads, headDim %d): batch 1 %s; batch 64 "
          + "%s%n", names[i], m[0], m[1], m[2], CudaSelfTests.attentionKernel(backend, 1, m[0], m[1], m[2]),
          CudaSelfTests.attentionKernel(backend, 64, m[0], m[1], m[2]));
    }
  }

  /** "1-3, 5, 7-9" for a sorted list. */
  static String ranges(List<Integer> xs) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < xs.size(); i++) {
      int j = i;
      while (j + 1 < xs.size() && xs.get(j + 1) == xs.get(j) + 1) {
        j++;
      }
      b.append(b.length() > 0 ? ", " : "").append(xs.get(i));
      if (j > i) {
        b.append('-').append(xs.get(j));
      }
      i = j;
    }
    return b.toString();
  }
}

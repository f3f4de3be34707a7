package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.CudaSelfTests;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The tuning half of {@link DecodeAttnBench} ({@code -Dbench.tune=true}): the tensor-core decode attention's variants
 * (warps per block, {@link CudaSelfTests#setDecodeTcVariant}) and graph split targets
 * ({@link CudaDiagnosticsAccess#setDecodeAttnTcBlocks}). Per variant the self-check (vs the decode kernels and the CPU
 * reference); the kernel alone, GPU µs per layer at glm-4-9b-chat heads for 8 .. 256 rows and each split target,
 * against the decode kernels at their graph splits; the best (variant, target) by the sum of the 64- and 256-row
 * times; the end-to-end check with it; per-op profiles at 64 and 256 rows per variant and off; decode tok/s at
 * {@code -Dbench.batches} with the best choice forced on vs off (the data for the cuda.decodeAttnTc threshold).
 */
final class DecodeAttnTuning {
  static final int[] ROWS = {8, 16, 32, 64, 128, 256};
  /** Graph split targets (blocks per step); 512 is the decode kernels' own (CudaForwardStep's). */
  static final int[] TARGETS = {128, 256, 512, 768, 1024, 1536, 2048, 3072, 4096};
  private static final int DEFAULT_TARGET = 512;

  private DecodeAttnTuning() {}

  /** A kernel choice: the variant and the graph split target. */
  record Choice(int variant, int target) {}

  static boolean run(DecodeAttnBench.Env e) {
    CudaBackend backend = e.backend();
    int variants = CudaSelfTests.decodeTcVariants(backend);
    boolean ok = true;
    for (int v = 0; v < variants; v++) {
      CudaDiagnosticsAccess.setDecodeAttnTcVariant(backend, v);
      ok &= DecodeAttnTcSelfCheck.run(backend, label(backend, v) + " ");
    }
    Choice best = kernelTable(backend, variants);
    CudaDiagnosticsAccess.setDecodeAttnTcVariant(backend, best.variant());
    CudaDiagnosticsAccess.setDecodeAttnTcBlocks(backend, best.target() == DEFAULT_TARGET ? 0 : best.target());
    System.out.println("end-to-end check with the best: " + label(backend, best.variant()) + ", graph target "
        + best.target());
    ok &= DecodeAttnBench.check(e.driver(), e.random(), e.config(), backend);
    for (String n : System.getProperty("bench.profileBatches", "64,256").split(",")) {
      for (int v = 0; v <= variants; v++) { // v == variants: off
        CudaDiagnosticsAccess.setDecodeAttnTc(backend, v == variants ? 0 : 1);
        CudaDiagnosticsAccess.setDecodeAttnTcVariant(backend, v == variants ? best.variant() : v);
        System.out.println("profile of " + (v == variants ? "cuda.decodeAttnTc 0 (off)" : label(backend, v)) + ":");
        CudaBench.Bench.profile(e.driver(), e.random(), e.config(), backend, Integer.parseInt(n.trim()));
      }
    }
    CudaDiagnosticsAccess.setDecodeAttnTcVariant(backend, best.variant());
    for (int tc : new int[] {1, 0}) {
      CudaDiagnosticsAccess.setDecodeAttnTc(backend, tc);
      System.out.println(tc == 0 ? "decode, cuda.decodeAttnTc 0 (off):" : "decode, cuda.decodeAttnTc 1 (forced on), "
          + label(backend, best.variant()) + ", graph target " + best.target() + ":");
      for (String n : System.getProperty("bench.batches", "8,16,32,64,128,256").split(",")) {
        CudaBench.Bench.batch(e.driver(), e.random(), e.config(), Integer.parseInt(n.trim()));
      }
    }
    return ok;
  }

  static String label(CudaBackend backend, int variant) {
    int w = CudaSelfTests.decodeTcVariantWarps(backend, variant);
    return "variant " + variant + " (" + w + " warps, " + 16 * w + "-key tiles)";
  }

  /** Splits per (token, KV head) of a graph step of {@code rows} rows at 2 KV heads aiming at {@code target} blocks. */
  static int splits(int rows, int target) {
    return Math.max(1, Math.min(128, target / (rows * 2)));
  }

  /**
   * The kernel-alone table at glm-4-9b-chat heads (32 over 2 KV heads, headDim 128), context {@code
   * -Dbench.attnContext} (default 133, the profiles' ~132), one line per (rows, kernel); returns the best choice.
   */
  static Choice kernelTable(CudaBackend backend, int variants) {
    int context = Integer.getInteger("bench.attnContext", 133);
    int layers = 6;
    int iters = 30;
    double[][][] us = new double[variants][ROWS.length][TARGETS.length];
    System.out.printf(Locale.ROOT, "kernel alone, GPU µs per layer (32 q heads over 2 KV heads, headDim 128, context "
        + "%d, %d caches cycled); graph split targets %s blocks%n", context, layers, java.util.Arrays.toString(TARGETS));
    for (int i = 0; i < ROWS.length; i++) {
      int rows = ROWS[i];
      double old = micros(backend, -1, rows, context, splits(rows, DEFAULT_TARGET), layers, iters);
      List<String> cells = new ArrayList<>();
      for (int v = 0; v < variants; v++) {
        StringBuilder b = new StringBuilder("v" + v);
        for (int k = 0; k < TARGETS.length; k++) {
          us[v][i][k] = micros(backend, v, rows, context, splits(rows, TARGETS[k]), layers, iters);
          b.append(String.format(Locale.ROOT, " %.1f", us[v][i][k]));
        }
        cells.add(b.toString());
      }
      System.out.printf(Locale.ROOT, "kernel rows %3d: old %.1f (%d splits) | %s%n", rows, old,
          splits(rows, DEFAULT_TARGET), String.join(" | ", cells));
    }
    return best(us, variants);
  }

  /** {@link CudaSelfTests#decodeAttnMicros} at glm-4-9b-chat heads; -1 (printed) after a failure, which it names. */
  private static double micros(CudaBackend backend, int variant, int rows, int context, int splits, int layers,
      int iters) {
    try {
      return CudaSelfTests.decodeAttnMicros(backend, variant, 32, 2, 128, rows, context, splits, layers, iters);
    } catch (IllegalStateException e) {
      System.out.println("kernel timing FAIL: variant " + variant + ", rows " + rows + ", splits " + splits + ": "
          + e.getMessage());
      return -1;
    }
  }

  private static Choice best(double[][][] us, int variants) {
    int i64 = 3;
    int i256 = 5;
    Choice best = new Choice(0, DEFAULT_TARGET);
    double bestUs = Double.MAX_VALUE;
    for (int v = 0; v < variants; v++) {
      for (int k = 0; k < TARGETS.length; k++) {
        double sum = us[v][i64][k] + us[v][i256][k];
        if (us[v][i64][k] > 0 && us[v][i256][k] > 0 && sum < bestUs) {
          bestUs = sum;
          best = new Choice(v, TARGETS[k]);
        }
      }
    }
    System.out.printf(Locale.ROOT, "kernel best at 64 + 256 rows: variant %d, graph target %d (%.1f µs summed)%n",
        best.variant(), best.target(), bestUs);
    return best;
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.CudaSelfTests;
import io.autoglm.cuda.tools.StepDriver.Chunk;
import io.autoglm.cuda.tools.StepDriver.Seq;
import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The prefill side of {@code CudaBench bench}: TTFT per {@code cuda.prefillAttn} value ({@code -Dbench.prefillAttns},
 * a comma list, default the setting in use; 0 = the decode kernels on every row), each against the bf16 GEMM rate
 * that cuBLAS reaches at the prefill shapes in the same process; and (bench stage {@code prefill}) a per-op GPU profile
 * of one prefill step of {@code -Dbench.profilePrefill} tokens (default 1,024) per value, summed into GEMMs,
 * attention and the rest.
 */
final class PrefillBench {
  private static final int GEMM_REPS = 20;

  private PrefillBench() {}

  /** The cuda.prefillAttn values to compare, then the one in use again. */
  private static int[] values(CudaBackend backend) {
    String list = System.getProperty("bench.prefillAttns", Integer.toString(CudaDiagnosticsAccess.prefillAttn(backend)));
    String[] parts = list.split(",");
    int[] v = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      v[i] = Integer.parseInt(parts[i].trim());
    }
    return v;
  }

  static void ttft(StepDriver d, SplittableRandom r, ModelConfig c, CudaBackend backend) {
    double gemm = gemmRate(backend, c, 1024);
    int inUse = CudaDiagnosticsAccess.prefillAttn(backend);
    consistency(d, r, c, backend, inUse);
    for (int v : values(backend)) {
      CudaDiagnosticsAccess.setPrefillAttn(backend, v);
      System.out.printf("cuda.prefillAttn %d (%s):%n", v, v == 0 ? "decode kernels on every row"
          : "tensor-core prefill kernel for sequences of >= " + v + " query tokens");
      double ms = CudaBench.Bench.ttft(d, r, c);
      double flops = prefillFlops(c, 1024);
      double issue = 2.0 * CheckpointLayout.decodeReadElements(c) * 1024;
      System.out.printf(Locale.ROOT, "prefill rate [cuda.prefillAttn %d]: %.1f TFLOP/s (linear + causal attention + "
              + "logits row, %.2f TFLOP per prompt) = %.1f%% of the %.1f TFLOP/s GEMM rate; 2·weights·tokens / TTFT ="
              + " %.1f TFLOP/s%n", v, flops / ms / 1e9, flops / 1e12, flops / ms / 1e9 / gemm * 100, gemm,
          issue / ms / 1e9);
    }
    CudaDiagnosticsAccess.setPrefillAttn(backend, inUse);
  }

  /** How far the prefill kernel may be from the decode kernels, in units of the accepted paths' own difference. */
  static final double E2E_FACTOR = 3;
  /** One bf16 ulp relative to the value (8 significant bits): the least spread consistency() takes. */
  static final double BF16_ULP = 0x1p-8;

  /**
   * End to end on the benchmark's model (the fixtures' heads are too narrow for the prefill kernel): the last row's
   * logits of a 1,024-token prompt under cuda.prefillAttn {@code v}, in one step and in chunks of 300, 400 and 324
   * (each attending to the cached prefix), against one step on the decode kernels (cuda.prefillAttn 0). On a random
   * 40-layer bf16 model one-ulp differences per layer grow to a few percent, so no fixed tolerance is justified; the
   * reference is the difference between accepted implementations on the same model and prompt: the decode path with
   * the other attention kernel (cuda.attnVariant 1 vs 2), and the decode path in the same chunks. It passes when both
   * prefill-kernel differences are within {@link #E2E_FACTOR} times the larger of those (and of one bf16 ulp, 2^-8
   * relative: where both accepted paths agree bit for bit, as they did in FP8, their spread of 0 says nothing, and a
   * path off by the last bit of its output is as accepted as they are), and the argmax agrees (unless the accepted
   * implementations' argmaxes already differ: a near tie).
   */
  static void consistency(StepDriver d, SplittableRandom r, ModelConfig c, CudaBackend backend, int v) {
    if (v == 0) {
      return;
    }
    int[] prompt = CudaBench.randomTokens(r, 1024, c.vocabSize());
    int variant = CudaDiagnosticsAccess.attentionVariant(backend);
    CudaDiagnosticsAccess.setPrefillAttn(backend, 0);
    float[] ref = oneStep(d, prompt);
    float[] refChunked = chunked(d, prompt);
    CudaDiagnosticsAccess.setAttentionVariant(backend, variant == 1 ? 2 : 1);
    float[] refOther = oneStep(d, prompt);
    CudaDiagnosticsAccess.setAttentionVariant(backend, variant);
    CudaDiagnosticsAccess.setPrefillAttn(backend, v);
    float[] one = oneStep(d, prompt);
    float[] chunked = chunked(d, prompt);
    double relOne = rel(one, ref);
    double relChunked = rel(chunked, ref);
    double refVariant = rel(refOther, ref);
    double refChunk = rel(refChunked, ref);
    double spread = Math.max(BF16_ULP, Math.max(refVariant, refChunk));
    double bound = E2E_FACTOR * spread;
    int top = argmax(ref);
    boolean tie = argmax(refOther) != top || argmax(refChunked) != top;
    boolean argmaxOk = tie || (argmax(one) == top && argmax(chunked) == top);
    boolean pass = relOne <= bound && relChunked <= bound && argmaxOk;
    System.out.printf(Locale.ROOT, "prefill kernel end to end [cuda.prefillAttn %d vs 0]: last-row logits of a 1,024-"
            + "token prompt rel %.2e (one step), %.2e (chunks 300/400/324); reference (accepted paths, decode "
            + "kernels): cuda.attnVariant %d vs %d rel %.2e, chunks vs one step rel %.2e; bound %.0f x %.2e = %.2e; "
            + "argmax %s / %s%s  %s%n", v, relOne, relChunked, variant == 1 ? 2 : 1, variant, refVariant, refChunk,
        E2E_FACTOR, spread, bound, argmax(one) == top ? "same" : "differs",
        argmax(chunked) == top ? "same" : "differs", tie ? " (near tie: the references' argmaxes differ)" : "",
        pass ? "PASS" : "FAIL");
  }

  /** The last row's logits of the prompt in one step, on fresh blocks. */
  private static float[] oneStep(StepDriver d, int[] prompt) {
    return d.lastLogits(List.of(new Chunk(d.sequences(1, prompt.length, 0, false).get(0), prompt)))[0];
  }

  /** The last row's logits of the prompt in chunks of 300, 400 and the rest, each attending to the cached prefix. */
  private static float[] chunked(StepDriver d, int[] prompt) {
    Seq s = d.sequences(1, prompt.length, 0, false).get(0);
    float[] out = null;
    for (int[] range : new int[][] {{0, 300}, {300, 700}, {700, prompt.length}}) {
      out = d.lastLogits(List.of(new Chunk(s, java.util.Arrays.copyOfRange(prompt, range[0], range[1]))))[0];
    }
    return out;
  }

  private static double rel(float[] a, float[] ref) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < ref.length; i++) {
      diff += (double) (a[i] - ref[i]) * (a[i] - ref[i]);
      norm += (double) ref[i] * ref[i];
    }
    return Math.sqrt(diff / norm);
  }

  private static int argmax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      best = x[i] > x[best] ? i : best;
    }
    return best;
  }

  static void profiles(StepDriver d, SplittableRandom r, ModelConfig c, CudaBackend backend) {
    int n = Integer.getInteger("bench.profilePrefill", 1024);
    double gemm = gemmRate(backend, c, n);
    int inUse = CudaDiagnosticsAccess.prefillAttn(backend);
    for (int v : values(backend)) {
      CudaDiagnosticsAccess.setPrefillAttn(backend, v);
      profile(d, r, c, backend, n, v, gemm);
    }
    CudaDiagnosticsAccess.setPrefillAttn(backend, inUse);
  }

  /** One warm-up prefill step of n tokens, then one profiled; the table and its GEMM / attention / rest sums. */
  private static void profile(StepDriver d, SplittableRandom r, ModelConfig c, CudaBackend backend, int n, int v,
      double gemm) {
    d.step(List.of(new Chunk(d.sequences(1, n, 0, false).get(0), CudaBench.randomTokens(r, n, c.vocabSize()))),
        StepDriver.greedy(1, 0));
    Seq s = d.sequences(1, n, 0, false).get(0);
    CudaDiagnosticsAccess.Profile p = new CudaDiagnosticsAccess.Profile();
    CudaDiagnosticsAccess.profile(backend, p);
    try {
      d.step(List.of(new Chunk(s, CudaBench.randomTokens(r, n, c.vocabSize()))), StepDriver.greedy(1, 0));
    } finally {
      CudaDiagnosticsAccess.profile(backend, null);
    }
    double linear = 0;
    double attention = 0;
    double rest = 0;
    for (Map.Entry<String, Double> e : p.msPerStep().entrySet()) {
      if (e.getKey().startsWith("linear")) {
        linear += e.getValue();
      } else if (e.getKey().startsWith("attention")) {
        attention += e.getValue();
      } else {
        rest += e.getValue();
      }
    }
    double total = linear + attention + rest;
    double linearFlops = linearFlops(c, n);
    double attnFlops = attentionFlops(c, n);
    System.out.printf(Locale.ROOT, "profile: prefill of one %d-token prompt, cuda.prefillAttn %d, pdl %s (GPU time "
        + "per op)%n%s", n, v, CudaDiagnosticsAccess.pdl(backend), p.table());
    System.out.printf(Locale.ROOT, "prefill profile summary [cuda.prefillAttn %d, %d tokens]: GEMMs %.2f ms (%.1f%%, "
            + "%.1f TFLOP/s = %.1f%% of the %.1f TFLOP/s GEMM rate), attention %.2f ms (%.1f%%, %.1f TFLOP/s causal), "
            + "rest %.2f ms (%.1f%%), sum %.2f ms%n", v, n, linear, linear / total * 100, linearFlops / linear / 1e9,
        linearFlops / linear / 1e9 / gemm * 100, gemm, attention, attention / total * 100, attnFlops / attention / 1e9,
        rest, rest / total * 100, total);
  }

  /**
   * cuBLAS bf16 GEMM TFLOP/s at the dense layer's prefill shapes for {@code rows} tokens, each printed, and combined
   * as the FLOP-weighted harmonic mean (total FLOPs over total time of one layer's four GEMMs).
   */
  static double gemmRate(CudaBackend backend, ModelConfig c, int rows) {
    int[][] shapes = {{c.qSize() + 2 * c.kvSize(), c.hiddenSize()}, {c.hiddenSize(), c.qSize()},
        {2 * c.intermediateSize(), c.hiddenSize()}, {c.hiddenSize(), c.intermediateSize()}};
    String[] names = {"qkv", "o", "gate_up", "down"};
    StringBuilder line = new StringBuilder();
    double flops = 0;
    double seconds = 0;
    for (int i = 0; i < shapes.length; i++) {
      double rate = CudaSelfTests.gemmTflops(backend, rows, shapes[i][1], shapes[i][0], GEMM_REPS);
      double f = 2.0 * rows * shapes[i][0] * shapes[i][1];
      flops += f;
      seconds += f / (rate * 1e12);
      line.append(String.format(Locale.ROOT, " %s %dx%d %.1f;", names[i], shapes[i][0], shapes[i][1], rate));
    }
    double rate = flops / seconds / 1e12;
    System.out.printf(Locale.ROOT, "bf16 GEMM rate (cuBLAS, %d rows, this process), TFLOP/s:%s combined %.1f%n", rows,
        line, rate);
    return rate;
  }

  /** The dense layers' GEMM FLOPs of an n-token prefill (q, k, v, o, gate_up, down), all layers. */
  static double linearFlops(ModelConfig c, int n) {
    double perToken = (double) c.hiddenSize() * (c.qSize() + 2 * c.kvSize()) + (double) c.qSize() * c.hiddenSize()
        + 3.0 * c.hiddenSize() * c.intermediateSize();
    return 2 * perToken * n * c.numLayers();
  }

  /** Causal attention FLOPs of a fresh n-token prompt: Q·Kᵀ and P·V over keys 0..t for token t, all layers. */
  static double attentionFlops(ModelConfig c, int n) {
    return 4.0 * c.headDim() * c.numHeads() * (n * (n + 1.0) / 2) * c.numLayers();
  }

  /** linear + attention FLOPs of an n-token prefill, plus the logits of its last row. */
  static double prefillFlops(ModelConfig c, int n) {
    return linearFlops(c, n) + attentionFlops(c, n) + 2.0 * c.hiddenSize() * c.vocabSize();
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.CudaGemmTests;
import io.autoglm.cuda.tools.StepDriver.Chunk;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The FP8 × FP8 linears ({@code cuda.fp8ActMinRows}, gemm_fp8_lt.cu) at glm-4-9b's shapes, one process:
 * {@code java ... Fp8LtCheck WORK_DIR}.
 *
 * <ol>
 *   <li>{@link #run}: the self-check, one line per weight shape over {@link #ROWS} (also part of {@code Fp8Check
 *       verify}).
 *   <li>A table of GPU µs per call: FP8 × FP8 (activation quantization included), the quantization alone, the
 *       tensor-core FP8 GEMM, dequantization + cuBLAS (the path of more than {@code cuda.fp8MmaMaxRows} rows with
 *       bf16 activations), and cuBLAS on a bf16 weight.
 *   <li>glm-4-9b-chat with random bf16 weights in host memory, in bf16 and quantized to FP8 at load: the last-row
 *       logits of a 512-token prompt per path, decode tok/s at {@code -Dbench.batches} (default 16,64,256) and the
 *       1,024-token TTFT, with FP8 × FP8 on ({@code cuda.fp8ActMinRows} default; also with {@code cuda.gemm=lt-tuned},
 *       which times the FP8 candidates too) and off (0).
 * </ol>
 *
 * <p>Bounds of the self-check. Against the fp64 product of the device's own quantized activations and weights, the
 * GEMM differs by fp32 accumulation and one bf16 rounding: |Δ| ≤ 2^-8·(|y| + |exact|) + 2^-12·Σ|terms| everywhere.
 * The quantization must match a sequential recomputation of its rule code for code; two runs must give the same bits.
 * At model level the activation quantization is an approximation of its own, so it is held to the error FP8 weights
 * already bring: the FP8 × FP8 logits may differ from the weight-only FP8 logits (same weights, bf16 activations) by
 * at most 1.5 × the weight-only FP8 logits' difference from the bf16 model's.
 */
final class Fp8LtCheck {
  /** A glm-4-9b linear: y (rows, out) = x (rows, in)·Wᵀ (+ bias). */
  record Shape(String name, int out, int in, boolean bias) {}

  static final List<Shape> SHAPES = List.of(new Shape("qkv", 4608, 4096, true), new Shape("o_proj", 4096, 4096, false),
      new Shape("gate_up", 27392, 4096, false), new Shape("down", 4096, 13696, false));
  /** Rows of the self-check: fewer than 4 must be declined; 5, 7 and 1,023 split (the last rows % 4 on the MMA GEMM). */
  static final int[] CHECK_ROWS = {3, 4, 5, 7, 16, 64, 256, 1023, 2048};
  static final int[] ROWS = {8, 16, 64, 128, 256, 1024, 2048};
  private static final int ITERS = 20;

  private Fp8LtCheck() {}

  public static void main(String[] args) throws Exception {
    boolean ok;
    try (CudaBackend backend = CudaBench.backend(0.5, Map.of())) {
      System.out.println("device: " + backend.deviceDescription() + "; " + CudaGemmTests.ltInfo(backend));
      ok = run(backend);
      table(backend);
    }
    ok &= model(Path.of(args.length > 0 ? args[0] : "/tmp/work"));
    System.out.println(ok ? "FP8LT PASS" : "FP8LT FAIL");
    System.exit(ok ? 0 : 1);
  }

  /** The self-check: one PASS/FAIL line per shape (SKIPPED without cuBLASLt, where the path never runs). */
  static boolean run(CudaBackend backend) {
    String info = CudaGemmTests.ltInfo(backend);
    if (!info.endsWith("loaded")) {
      System.out.println("fp8 x fp8 self-check SKIPPED (FP8 linears keep bf16 activations): " + info.replace('\n', ' '));
      return true;
    }
    boolean ok = true;
    for (Shape s : SHAPES) {
      StringBuilder line = new StringBuilder();
      boolean pass = true;
      for (int rows : CHECK_ROWS) {
        double[] r = CudaGemmTests.fp8Check(backend, rows, s.in(), s.out(), s.bias());
        if (r.length == 1) {
          pass &= rows < 4 && r[0] == -1;
          line.append(String.format(" [%d: %s]", rows, r[0] == -1 ? "declined" : "out of memory"));
          continue;
        }
        pass &= rows >= 4;
        pass &= r[0] == 0 && r[1] <= 1 && r[4] == 0 && r[5] == 0;
        line.append(String.format(Locale.ROOT, " [%d: %.0f out, max %.2f, rel %.1e; vs unquantized x %.1e; quant %.0f"
            + " differ, rerun %.0f]", rows, r[0], r[1], r[2], r[3], r[4], r[5]));
      }
      ok &= pass;
      System.out.printf("fp8 x fp8 %s %dx%d%s vs fp64 (bound 2^-8(|y|+|ref|) + 2^-12 sum|terms|), rows%s  %s%n",
          s.name(), s.out(), s.in(), s.bias() ? "+bias" : "", line, pass ? "PASS" : "FAIL");
    }
    System.out.println("fp8 x fp8 self-check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  /** GPU µs per call of each path, per shape and row count. */
  static void table(CudaBackend backend) {
    System.out.printf("fp8 table: GPU µs per call (%d, weight copies past L2): fp8xfp8 (quant) | mma | dequant+cublas"
        + " | bf16 cublas%n", ITERS);
    for (Shape s : SHAPES) {
      for (int rows : ROWS) {
        double[] t = CudaGemmTests.fp8Times(backend, rows, s.in(), s.out(), ITERS);
        if (t.length == 1) {
          System.out.printf("fp8 %s rows %d: %s%n", s.name(), rows, t[0] == -1 ? "not taken" : "out of memory");
          continue;
        }
        double best = Math.min(t[2] < 0 ? Double.MAX_VALUE : t[2], t[3]);
        System.out.printf(Locale.ROOT, "fp8 %-8s r%-4d fp8xfp8 %7.1fus (%5.1f) | mma %7.1fus | dequant %7.1fus | bf16 "
            + "%7.1fus | vs weight-only %.2fx, vs bf16 %.2fx%n", s.name(), rows, t[0], t[1], t[2], t[3], t[4],
            best / t[0], t[4] / t[0]);
      }
    }
  }

  /** Logits and speed of glm-4-9b-chat in bf16 and in FP8 quantized at load, FP8 × FP8 on and off. */
  static boolean model(Path work) throws Exception {
    Map<String, float[]> logits = new LinkedHashMap<>();
    Map<String, String> speed = new LinkedHashMap<>();
    eachPrecision(work, (precision, backend, d, c) -> {
      int[] prompt = CudaBench.randomTokens(new SplittableRandom(5), 512, c.vocabSize());
      for (String mode : precision.equals("bf16") ? List.of("bf16") : List.of("fp8xfp8", "fp8xfp8-tuned",
          "fp8-weight-only", "fp8-mma")) {
        CudaDiagnosticsAccess.setGemm(backend, mode.endsWith("-tuned") ? "lt-tuned" : "cublas");
        CudaDiagnosticsAccess.setFp8ActMinRows(backend, mode.startsWith("fp8xfp8") ? 4 : 0);
        CudaDiagnosticsAccess.setFp8MmaMaxRows(backend, mode.equals("fp8-mma") ? 1 << 20 : 128);
        logits.put(mode, d.lastLogits(List.of(new Chunk(d.sequences(1, 600, 0, false).get(0), prompt)))[0]);
        if (!mode.equals("fp8-mma")) {
          SplittableRandom r = new SplittableRandom(1);
          speed.put(mode, decodeSpeeds(d, c, r, "16,64,256") + String.format(Locale.ROOT, "TTFT 1,024 tokens %.1f ms",
              CudaBench.Bench.ttft(d, r, c)));
        }
      }
    });
    speed.forEach((mode, line) -> System.out.printf("fp8 model [%s]: %s%n", mode, line));
    return compare(logits);
  }

  /** What runs on one loaded glm-4-9b-chat: its precision ("bf16", or "fp8q": the same weights FP8 at load). */
  interface ModelRun {
    void run(String precision, CudaBackend backend, StepDriver d, ModelConfig c) throws Exception;
  }

  /**
   * glm-4-9b-chat with random bf16 weights in host memory (config written under {@code work}), loaded in bf16 and
   * then quantized to FP8 at load, each with a 4,096-slot KV cache, each run on it once.
   */
  static void eachPrecision(Path work, ModelRun run) throws Exception {
    Path dir = work.resolve("glm-4-9b-chat-config");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), FastRandomCheckpoint.config("glm-4-9b-chat"));
    ModelConfig c = ModelConfig.load(dir);
    for (String precision : List.of("bf16", "fp8q")) {
      Map<String, String> props = precision.equals("fp8q") ? Map.of(BackendOptions.QUANTIZATION, "fp8") : Map.of();
      try (CudaBackend backend = CudaBench.backend(0.6, props)) {
        GlmModel m = GlmModel.load(c, Partition.whole(c), new RandomWeights(c), backend, LoadProgress.none());
        try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 4096, 16, c.numKvHeads(), c.headDim()))) {
          run.run(precision, backend, new StepDriver(backend, m, kv), c);
        }
      }
    }
  }

  /** "batch N T tok/s, " per batch of {@code -Dbench.batches} (default {@code batches}), CudaBench's decode run. */
  static String decodeSpeeds(StepDriver d, ModelConfig c, SplittableRandom r, String batches) {
    StringBuilder line = new StringBuilder();
    for (String n : System.getProperty("bench.batches", batches).split(",")) {
      int batch = Integer.parseInt(n.trim());
      CudaBench.Bench.batch(d, r, c, batch);
      line.append(String.format(Locale.ROOT, "batch %d %,.1f tok/s, ", batch,
          CudaBench.Bench.RESULTS.get("batch " + batch + " decode tok/s")));
    }
    return line.toString();
  }

  /** The logits' relative differences and argmaxes; PASS when FP8 × FP8 stays within 1.5 × the FP8 weights' error. */
  static boolean compare(Map<String, float[]> l) {
    double weights = rel(l.get("fp8-weight-only"), l.get("bf16"));
    double acts = rel(l.get("fp8xfp8"), l.get("fp8-weight-only"));
    double tuned = rel(l.get("fp8xfp8-tuned"), l.get("fp8-weight-only"));
    boolean pass = acts <= 1.5 * weights && tuned <= 1.5 * weights;
    System.out.printf(Locale.ROOT, "fp8 logits (512-token prompt, last row): rel fp8-weight-only vs bf16 %.3e, "
            + "fp8-mma vs bf16 %.3e, fp8-mma vs fp8-weight-only %.3e, fp8xfp8 vs bf16 %.3e, fp8xfp8 (tuned) vs "
            + "fp8-weight-only %.3e (%.3e), bound 1.5 x %.3e; fp8xfp8 vs its tuned run %.3e; argmax bf16 %d, "
            + "weight-only %d, mma %d, fp8xfp8 %d  %s%n",
        weights, rel(l.get("fp8-mma"), l.get("bf16")), rel(l.get("fp8-mma"), l.get("fp8-weight-only")),
        rel(l.get("fp8xfp8"), l.get("bf16")), acts, tuned, weights, rel(l.get("fp8xfp8-tuned"), l.get("fp8xfp8")),
        argmax(l.get("bf16")), argmax(l.get("fp8-weight-only")), argmax(l.get("fp8-mma")), argmax(l.get("fp8xfp8")),
        pass ? "PASS" : "FAIL");
    return pass;
  }

  static double rel(float[] a, float[] ref) {
    double d = 0;
    double r = 0;
    for (int i = 0; i < a.length; i++) {
      d += (double) (a[i] - ref[i]) * (a[i] - ref[i]);
      r += (double) ref[i] * ref[i];
    }
    return Math.sqrt(d / r);
  }

  static int argmax(float[] a) {
    int best = 0;
    for (int i = 1; i < a.length; i++) {
      if (a[i] > a[best]) {
        best = i;
      }
    }
    return best;
  }
}

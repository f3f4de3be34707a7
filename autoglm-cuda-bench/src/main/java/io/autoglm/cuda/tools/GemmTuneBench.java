package io.autoglm.cuda.tools;

import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.CudaGemmTests;
import io.autoglm.cuda.tools.GemmLtCheck.Shape;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The bf16 GEMM paths ({@code cuda.gemm}) at glm-4-9b's shapes, one process: {@code java ... GemmTuneBench WORK_DIR}.
 * First {@link GemmLtCheck} (unless {@code -Dbench.gemmCheck=false}); then per linear shape and row count GPU µs of
 * cublasGemmEx, cuBLASLt's heuristic #0 and the tuned choice (its index among the candidates, -1: cublasGemmEx),
 * over weight copies cycled past L2, with TB/s (weights + activations / time) for decode rows or TFLOP/s for prefill
 * rows; then, on glm-4-9b-chat with random weights in host memory, decode tok/s at {@code -Dbench.batches} (default
 * 16,64,256) and the TTFT of 1,024 tokens per {@code -Dbench.gemmModes} value (default cublas,lt,lt-tuned), the
 * measurements of {@code CudaBench bench}.
 */
final class GemmTuneBench {
  private static final int ITERS = 30;

  private GemmTuneBench() {}

  public static void main(String[] args) throws Exception {
    boolean ok = true;
    try (CudaBackend backend = CudaBench.backend(0.92, Map.of())) {
      System.out.println("device: " + backend.deviceDescription() + "; " + CudaGemmTests.ltInfo(backend));
      if (Boolean.parseBoolean(System.getProperty("bench.gemmCheck", "true"))) {
        ok = GemmLtCheck.run(backend);
      }
      if (Boolean.parseBoolean(System.getProperty("bench.gemmTable", "true"))) {
        table(backend);
      }
      model(backend, Path.of(args.length > 0 ? args[0] : "/tmp/work"));
    }
    System.exit(ok ? 0 : 1);
  }

  /** One line per shape and row count. */
  static void table(CudaBackend backend) {
    double bw = CudaDiagnosticsAccess.copyBandwidthBytesPerSecond(backend, 2L << 30, 20);
    System.out.printf(Locale.ROOT, "gemm table: GPU µs per GEMM (%d over weight copies past L2), TB/s of weights + "
        + "activations (TFLOP/s from 1,024 rows); tuned #index/candidates (-1: cublasGemmEx); d2d copy %.2f TB/s%n",
        ITERS, bw / 1e12);
    for (Shape s : GemmLtCheck.SHAPES) {
      for (int rows : GemmLtCheck.rows(s)) {
        double[] t = CudaGemmTests.times(backend, rows, s.in(), s.out(), s.bias(), s.f32Out(), ITERS);
        if (t.length == 1) {
          System.out.printf("gemm %s rows %d: %s%n", s.label(), rows, t[0] == -1 ? "cuBLASLt unusable"
              : t[0] == -2 ? "out of device memory" : "a GEMM call failed");
          continue;
        }
        System.out.printf(Locale.ROOT, "gemm %-20s r%-4d cublas %6.1fus %s | lt0 %6.1fus %s | tuned %6.1fus %s #%d/%d"
                + " (%s) %.2fx%n", s.label(), rows, t[0], rate(s, rows, t[0]), t[1], rate(s, rows, t[1]), t[2],
            rate(s, rows, t[2]), (int) t[3], (int) t[4], CudaGemmTests.describeLast(backend)
                .replace("splitK", "sk").replace("reduction", "red"), t[0] / t[2]);
      }
    }
  }

  /** TB/s of weights + activations for decode rows, TFLOP/s for prefill rows. */
  private static String rate(Shape s, int rows, double micros) {
    return rows >= 1024 ? String.format(Locale.ROOT, "%4.0fTFLOP/s", 2.0 * rows * s.in() * s.out() / micros / 1e6)
        : String.format(Locale.ROOT, "%4.2fTB/s", s.bytes(rows) / micros / 1e6);
  }

  /** Decode tok/s and TTFT on glm-4-9b-chat (random weights in host memory) per cuda.gemm value. */
  static void model(CudaBackend backend, Path work) throws Exception {
    Path dir = work.resolve("glm-4-9b-chat-config");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), FastRandomCheckpoint.config("glm-4-9b-chat"));
    ModelConfig c = ModelConfig.load(dir);
    GlmModel m = GlmModel.load(c, Partition.whole(c), new RandomWeights(c), backend, LoadProgress.none());
    Map<String, String> summary = new LinkedHashMap<>();
    try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 4096, 16, c.numKvHeads(), c.headDim()))) {
      StepDriver d = new StepDriver(backend, m, kv);
      SplittableRandom r = new SplittableRandom(1);
      for (String mode : System.getProperty("bench.gemmModes", "cublas,lt,lt-tuned").split(",")) {
        CudaDiagnosticsAccess.setGemm(backend, mode.trim());
        System.out.println("cuda.gemm " + mode.trim() + ":");
        StringBuilder line = new StringBuilder();
        for (String n : System.getProperty("bench.batches", "16,64,256").split(",")) {
          int batch = Integer.parseInt(n.trim());
          CudaBench.Bench.batch(d, r, c, batch);
          line.append(String.format(Locale.ROOT, "batch %d %,.0f tok/s, ", batch,
              CudaBench.Bench.RESULTS.get("batch " + batch + " decode tok/s")));
        }
        double ttft = CudaBench.Bench.ttft(d, r, c);
        summary.put(mode.trim(), line + String.format(Locale.ROOT, "TTFT 1,024 tokens %.1f ms", ttft));
      }
      CudaDiagnosticsAccess.setGemm(backend, System.getProperty("cuda.gemm", "cublas"));
    }
    summary.forEach((mode, line) -> System.out.printf("gemm summary [cuda.gemm %s]: %s%n", mode, line));
  }
}

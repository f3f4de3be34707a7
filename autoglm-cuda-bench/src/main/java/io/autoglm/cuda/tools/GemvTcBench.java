package io.autoglm.cuda.tools;

import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.CudaSelfTests;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The tensor-core GEMV ({@code cuda.gemvTc}) at glm-4-9b-chat shapes, one process: {@code java ... GemvTcBench
 * WORK_DIR}. Its self-check ({@link GemvTcSelfCheck}); per GEMV shape (qkv + bias, o, gate_up with SiLU·mul, down,
 * lm_head with fp32 logits) × rows 1..8 the GPU µs per launch (events, weights cycled out of L2) of the in-split GEMV,
 * the tensor-core GEMV and cuBLAS, with the weight stream's TB/s; then decode tok/s at {@code -Dbench.batches}
 * (default 1..8, 16; random bf16 weights in host memory, CUDA graphs, as {@code CudaBench bench}) for each
 * {@code -Dbench.gemvTcs} value (default 0,2,5) and with cuBLAS only ({@code cuda.gemv=false}).
 */
final class GemvTcBench {
  /** A timed GEMV: label, in, out (weight rows), mode (0 bf16, 1 fp32, 2 SiLU·mul), bias. */
  static final List<GemvTcSelfCheck.Shape> SHAPES = List.of(new GemvTcSelfCheck.Shape("qkv", 4096, 4608, 0, true),
      new GemvTcSelfCheck.Shape("o", 4096, 4096, 0, false),
      new GemvTcSelfCheck.Shape("gate_up+silu", 4096, 27392, 2, false),
      new GemvTcSelfCheck.Shape("down", 13696, 4096, 0, false),
      new GemvTcSelfCheck.Shape("lm_head fp32", 4096, 151552, 1, false));

  private GemvTcBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "/tmp/work").resolve("glm-4-9b-chat-config");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), FastRandomCheckpoint.config("glm-4-9b-chat"));
    ModelConfig c = ModelConfig.load(dir);
    boolean ok = true;
    try (CudaBackend backend = CudaBench.backend(0.92, Map.of())) {
      if (Boolean.parseBoolean(System.getProperty("bench.check", "true"))) {
        ok = GemvTcSelfCheck.run(backend);
      }
      kernelTable(backend);
      GlmModel m = GlmModel.load(c, Partition.whole(c), new RandomWeights(c), backend, LoadProgress.none());
      try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 12_000, 16, c.numKvHeads(), c.headDim()))) {
        decode(backend, new StepDriver(backend, m, kv), new SplittableRandom(1), c);
      }
    }
    System.exit(ok ? 0 : 1);
  }

  /** One line per (shape, rows): GPU µs and TB/s of the in-split GEMV, the tensor-core GEMV and cuBLAS. */
  static void kernelTable(CudaBackend backend) {
    int maxRows = Integer.getInteger("bench.gemvMaxRows", 8);
    System.out.println("gemv GPU µs per launch (TB/s of the weight stream): in-split GEMV | tensor-core GEMV | cuBLAS");
    for (GemvTcSelfCheck.Shape s : SHAPES) {
      double bytes = 2.0 * s.in() * s.out();
      int iters = (int) Math.max(20, Math.min(400, 4e9 / bytes));
      for (int rows = 1; rows <= maxRows; rows++) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "gemv %-12s %6dx%-5d rows %d:", s.label(),
            s.out(), s.in(), rows));
        for (int kind = 0; kind < 3; kind++) {
          double us = CudaSelfTests.gemvMicros(backend, kind, s.mode(), s.bias(), rows, s.in(), s.out(), iters);
          b.append(us < 0 ? (us == -1 ? " declined" : " out of memory")
              : String.format(Locale.ROOT, " %7.1f (%.2f)", us, bytes / us / 1e6));
          b.append(kind < 2 ? " |" : "");
        }
        System.out.println(b);
      }
    }
  }

  /** Decode tok/s at each batch for each cuda.gemvTc value, then with cuBLAS only. */
  static void decode(CudaBackend backend, StepDriver d, SplittableRandom r, ModelConfig c) {
    String batches = System.getProperty("bench.batches", "1,2,3,4,5,6,7,8,16");
    for (String v : System.getProperty("bench.gemvTcs", "0,2,5").split(",")) {
      int tc = Integer.parseInt(v.trim());
      CudaDiagnosticsAccess.setGemvRows(backend, 8, tc);
      System.out.println("decode, GEMVs to 8 rows, cuda.gemvTc " + tc + (tc == 0 ? " (off):" : ":"));
      for (String n : batches.split(",")) {
        CudaBench.Bench.batch(d, r, c, Integer.parseInt(n.trim()));
      }
    }
    System.out.println("decode, the defaults (" + CudaDiagnosticsAccess.setGemvRowsDefault(backend) + "):");
    for (String n : batches.split(",")) {
      CudaBench.Bench.batch(d, r, c, Integer.parseInt(n.trim()));
    }
    CudaDiagnosticsAccess.setFastPaths(backend, true, false);
    System.out.println("decode, cuBLAS only (cuda.gemv false):");
    for (String n : batches.split(",")) {
      CudaBench.Bench.batch(d, r, c, Integer.parseInt(n.trim()));
    }
  }
}

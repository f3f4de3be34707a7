package io.autoglm.cuda.tools;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.MoeConfig;
import io.autoglm.model.Partition;
import io.autoglm.model.WeightSource;
import io.autoglm.safetensors.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code CudaBench bench} over several weight precisions in one process ({@code -Dbench.precisions}, e.g.
 * {@code bf16,fp8}): each loads the model, measures the copy bandwidth and its own HBM floor (the bytes one decode
 * token reads ÷ that bandwidth), runs the same stages as {@link CudaBench.Bench}, and closes its backend before the
 * next; at the end every result of a later precision is printed as a ratio to the first's. Precisions: {@code bf16}
 * (as CudaBench bench: glm-4-9b-chat from a random checkpoint file, larger models in host memory), {@code fp8}
 * (random FP8 linears in host memory, {@link RandomWeights}, no disk), {@code fp8q} (the bf16 weights quantized to
 * FP8 by the device at load, {@code autoglm.quantization=fp8}).
 */
final class Fp8Bench {
  private Fp8Bench() {}

  static void run(Path work, String which) throws Exception {
    String model = System.getProperty("bench.model", "glm-4-9b-chat");
    Map<String, Map<String, Double>> all = new LinkedHashMap<>();
    for (String p : System.getProperty("bench.precisions").split(",")) {
      CudaBench.Bench.RESULTS.clear();
      one(work, which, model, p.trim());
      all.put(p.trim(), new LinkedHashMap<>(CudaBench.Bench.RESULTS));
    }
    String first = all.keySet().iterator().next();
    for (Map.Entry<String, Map<String, Double>> e : all.entrySet()) {
      if (e.getKey().equals(first)) {
        continue;
      }
      for (Map.Entry<String, Double> r : e.getValue().entrySet()) {
        Double base = all.get(first).get(r.getKey());
        if (base != null) {
          System.out.printf("RATIO %s / %s: %s %.1f / %.1f = %.3f%n", e.getKey(), first, r.getKey(), r.getValue(),
              base, r.getValue() / base);
        }
      }
    }
  }

  /** Bytes one decode token reads with FP8 linears: 1 per FP8 weight (+ its 4-byte scale per 128×128), 2 else. */
  static long fp8DecodeBytes(ModelConfig c) {
    long bytes = 2 * CheckpointLayout.decodeReadElements(c);
    String mtp = "model.layers." + c.numLayers() + ".";
    java.util.Set<String> linear = CheckpointLayout.linearWeights(c);
    for (Map.Entry<String, long[]> e : CheckpointLayout.tensors(c).entrySet()) {
      if (e.getKey().startsWith(mtp) || !RandomWeights.fp8(linear, e.getKey(), e.getValue())) {
        continue;
      }
      long[] s = e.getValue();
      long n = s[0] * s[1];
      long scales = 4 * ((s[0] + 127) / 128) * ((s[1] + 127) / 128);
      if (e.getKey().contains(".mlp.experts.")) {
        MoeConfig m = c.moe().orElseThrow();
        n = n * m.numExpertsPerToken() / m.numRoutedExperts();
        scales = scales * m.numExpertsPerToken() / m.numRoutedExperts();
      }
      bytes += scales - n; // 1 byte instead of 2
    }
    return bytes;
  }

  private static void one(Path work, String which, String model, String precision) throws Exception {
    if (!List.of("bf16", "fp8", "fp8q").contains(precision)) {
      throw new IllegalArgumentException("bench.precisions: " + precision + " is not one of bf16, fp8, fp8q");
    }
    boolean fp8 = precision.equals("fp8");
    boolean inMemory = fp8 || Boolean.parseBoolean(System.getProperty("bench.inMemory",
        Boolean.toString(!model.equals("glm-4-9b-chat"))));
    Path dir = FastRandomCheckpoint.modelDir(work, model, inMemory);
    ModelConfig c = ModelConfig.load(dir);
    Map<String, String> props = new HashMap<>();
    String arena = System.getProperty("bench.arenaBytes");
    if (arena != null) {
      props.put("cuda.arenaBytes", arena);
    }
    if (precision.equals("fp8q")) {
      props.put(BackendOptions.QUANTIZATION, "fp8");
    }
    try (CudaBackend backend = CudaBench.backend(0.92, props); Checkpoint ckpt = inMemory ? null : Checkpoint.open(dir)) {
      System.out.printf("== precision %s: device %s; model %s (%d layers%s), weights %s%n", precision,
          backend.deviceDescription(), model, c.numLayers(), c.moe().map(m -> ", " + m.numRoutedExperts()
              + " experts top-" + m.numExpertsPerToken()).orElse(""), inMemory ? "random in host memory"
              + (fp8 ? " (FP8 linears)" : "") : "from " + dir + (precision.equals("fp8q") ? ", quantized at load" : ""));
      long t0 = System.nanoTime();
      RandomWeights random = inMemory ? new RandomWeights(c, fp8) : null;
      GlmModel m = GlmModel.load(c, Partition.whole(c), inMemory ? random : WeightSource.whole(ckpt), backend,
          LoadProgress.none());
      double loadS = (System.nanoTime() - t0) / 1e9;
      long stored = inMemory ? random.servedBytes() : ckpt.storedBytes();
      long postLoad = CudaDiagnosticsAccess.deviceBytesInUse(backend);
      System.out.printf("loaded %.2f GB (%s) in %.1f s (%.1f GB/s); device bytes in use %.2f GB%n", stored / 1e9,
          precision, loadS, stored / 1e9 / loadS, postLoad / 1e9);
      double bw = CudaDiagnosticsAccess.copyBandwidthBytesPerSecond(backend, 2L << 30, 20);
      long stepBytes = precision.equals("bf16") ? CheckpointLayout.decodeReadElements(c) * 2 : fp8DecodeBytes(c);
      double floorMs = stepBytes / bw * 1e3;
      System.out.printf("d2d copy %.2f TB/s; weight bytes per decode token (%s%s) %.2f GB; floor %.2f ms = %.1f"
          + " tok/s%n", bw / 1e12, precision, c.moe().isPresent() ? ", active parameters" : "", stepBytes / 1e9,
          floorMs, 1e3 / floorMs);
      CudaBench.Bench.RESULTS.put("HBM floor tok/s", 1e3 / floorMs);
      int bs = 16;
      long perBlock = new KvLayout(c.numLayers(), 1, bs, c.numKvHeads(), c.headDim()).bytesPerToken(2) * bs;
      long budget = backend.kvCacheBudgetBytes().orElseThrow();
      int blocks = (int) Math.min(budget / perBlock, 24_000);
      System.out.printf("KV budget %.1f GB = %d blocks of %d tokens; using %d%n", budget / 1e9, budget / perBlock, bs,
          blocks);
      try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), blocks, bs, c.numKvHeads(), c.headDim()))) {
        new CudaBench.Bench.Stages(new StepDriver(backend, m, kv), new SplittableRandom(1), c, backend, floorMs)
            .runCountingGraphs(which);
      }
    }
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.MoeRouter;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaBackendProvider;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.MoeRouteSelfCheck;
import io.autoglm.cuda.tools.StepDriver.Chunk;
import io.autoglm.cuda.tools.StepDriver.Seq;
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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * MoE decode on the GPU with the routing on the device (moe_route.cu) at GLM-4.5-Air shapes and on the MoE fixtures.
 *
 * <pre>
 * MoeBench check FIXTURES_MODELS_DIR  the device routing against the host plan on the same logits
 *                                     ({@link MoeRouteSelfCheck}); then, per MoE fixture and for GLM-4.5-Air shapes
 *                                     (2 layers, random weights in host memory), one decode step repeated on the same
 *                                     inputs: its eager warm-up, its capture and its replay equal bit for bit, and
 *                                     the same step eager with device and with host routing, by rel-L2; in bf16
 *                                     and in FP8 (-Dmoe.precisions, default bf16,fp8: the fixtures' linears
 *                                     quantized on the host, Air's random FP8 linears and experts)
 * MoeBench bench [LAYERS]             GLM-4.5-Air shapes, LAYERS layers (default 24: 46 do not fit one H200 in
 *                                     bf16), random bf16 weights in host memory: decode tok/s at batch 1 and 64 with
 *                                     graphs + device routing, eager + device routing, eager + host routing, against
 *                                     the active-parameter floor; per-op profiles (-Dmoe.profile=false: none)
 * </pre>
 *
 * <p>The active-parameter floor of a step: the bytes its weights read (every dense, attention, shared-expert, norm and
 * router tensor, the LM head, one embedding row per token, and {@code experts} routed experts per MoE layer, where
 * {@code experts} is the number of distinct experts the step's tokens chose, counted on eager steps of the same batch
 * through the device-routing observer) divided by the device-to-device copy bandwidth measured in the same process.
 * The KV cache reads are printed beside it and not in it.
 */
public final class MoeBench {
  private MoeBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: MoeBench check FIXTURES_MODELS_DIR | bench [LAYERS]");
      System.exit(2);
    }
    CudaBackendProvider provider = new CudaBackendProvider();
    if (!provider.isAvailable()) {
      System.err.println("CUDA backend unavailable: " + provider.unavailableReason());
      System.exit(3);
    }
    boolean ok = switch (args[0]) {
      case "check" -> check(Path.of(args[1]));
      case "bench" -> {
        bench(args.length > 1 ? Integer.parseInt(args[1]) : 24);
        yield true;
      }
      default -> throw new IllegalArgumentException("unknown subcommand " + args[0] + " (check, bench)");
    };
    System.out.println(ok ? "MOE PASS" : "MOE FAIL");
    System.exit(ok ? 0 : 1);
  }

  /** GLM-4.5-Air's config (zai-org/GLM-4.5-Air) with {@code layers} layers and no MTP layer. */
  static ModelConfig air(int layers) throws java.io.IOException {
    Path dir = Path.of(System.getProperty("java.io.tmpdir"), "glm-4.5-air-config-" + layers);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), String.format(EngineBench.AIR, layers));
    return ModelConfig.load(dir);
  }

  static boolean check(Path fixtures) throws Exception {
    boolean ok;
    try (CudaBackend backend = CudaBench.backend(0.5)) {
      ok = MoeRouteSelfCheck.run(backend);
    }
    List<String> precisions = List.of(System.getProperty("moe.precisions", "bf16,fp8").split(","));
    for (String name : CudaBench.fixtures(fixtures)) {
      Path dir = fixtures.resolve(name);
      ModelConfig c = ModelConfig.load(dir);
      if (c.moe().isEmpty()) {
        continue;
      }
      for (String p : precisions) {
        boolean fp8 = p.trim().equals("fp8");
        try (CudaBackend backend = CudaBench.backend(0.5); Checkpoint ckpt = Checkpoint.open(dir)) {
          // FP8: the linears quantized on the host (Fp8Source), as Fp8Check loads them (experts of widths the FP8
          // kernels cannot take stay bf16 beside FP8 ones)
          WeightSource src = fp8 ? new Fp8Source(WeightSource.whole(ckpt), c, false) : WeightSource.whole(ckpt);
          GlmModel m = GlmModel.load(c, Partition.whole(c), src, backend, LoadProgress.none());
          for (int batch : new int[] {1, 5, 16}) {
            ok &= graphCheck(backend, m, c, name + (fp8 ? " FP8" : ""), batch);
          }
        }
      }
    }
    ModelConfig c = air(2);
    for (String p : precisions) {
      boolean fp8 = p.trim().equals("fp8");
      try (CudaBackend backend = CudaBench.backend(0.9)) {
        GlmModel m = GlmModel.load(c, Partition.whole(c), new RandomWeights(c, fp8), backend, LoadProgress.none());
        for (int batch : new int[] {1, 64}) {
          ok &= graphCheck(backend, m, c, "glm-4.5-air shapes, 2 layers" + (fp8 ? ", FP8" : ""), batch);
        }
      }
    }
    System.out.println("moe check " + (ok ? "PASS" : "FAIL"));
    return ok;
  }

  /**
   * {@code batch} sequences prefilled with 9 random tokens, then one decode step run five times on the same inputs
   * (same tokens, positions and KV slots: a step rewrites its slots with the same values): graphs on (the bucket's
   * eager warm-up, its capture, a replay), then graphs off with device routing, and with host routing.
   */
  static boolean graphCheck(CudaBackend backend, GlmModel m, ModelConfig c, String name, int batch) {
    SplittableRandom r = new SplittableRandom(batch);
    int bs = 16;
    try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 4 * batch + 8, bs, c.numKvHeads(),
        c.headDim()))) {
      StepDriver d = new StepDriver(backend, m, kv);
      List<Seq> seqs = d.sequences(batch, 48, 0, false);
      int[] next = new int[batch];
      for (int from = 0; from < batch; from += 8) {
        List<Chunk> chunks = new ArrayList<>();
        for (int i = from; i < Math.min(batch, from + 8); i++) {
          chunks.add(new Chunk(seqs.get(i), CudaBench.randomTokens(r, 9, c.vocabSize())));
        }
        System.arraycopy(d.step(chunks, StepDriver.greedy(chunks.size(), 0)), 0, next, from, chunks.size());
      }
      CudaDiagnosticsAccess.setMoeDeviceRouting(backend, true); // also drops any captured graph
      CudaDiagnosticsAccess.setFastPaths(backend, true, true);
      int captured = CudaDiagnosticsAccess.graphsCapturedTotal();
      float[][][] out = new float[5][][];
      for (int rep = 0; rep < 5; rep++) {
        if (rep == 3) {
          CudaDiagnosticsAccess.setFastPaths(backend, false, true);
        } else if (rep == 4) {
          CudaDiagnosticsAccess.setMoeDeviceRouting(backend, false);
        }
        List<Chunk> step = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
          seqs.get(i).cached = 9;
          step.add(new Chunk(seqs.get(i), new int[] {Math.floorMod(next[i], c.vocabSize())}));
        }
        out[rep] = d.logits(step);
      }
      captured = CudaDiagnosticsAccess.graphsCapturedTotal() - captured;
      CudaDiagnosticsAccess.setMoeDeviceRouting(backend, true);
      CudaDiagnosticsAccess.setFastPaths(backend, true, true);
      long capture = differing(out[0], out[1]);
      long replay = differing(out[0], out[2]);
      double eager = CudaBench.Verify.compare(out[3], out[2], 0, 0, batch)[0];
      double host = CudaBench.Verify.compare(out[4], out[3], 0, 0, batch)[0];
      boolean ok = captured == 1 && capture == 0 && replay == 0 && eager <= 1e-2 && host <= 1e-2;
      System.out.printf(Locale.ROOT, "moe graph check %s, batch %d (bucket %d): graphs captured %d; logits differing "
              + "from the eager warm-up: capture %d, replay %d (of %d); eager step without graphs vs replay rel-L2 "
              + "%.2e; host routing vs device routing (both eager) rel-L2 %.2e: %s%n", name, batch,
          batch <= 8 ? Integer.highestOneBit(Math.max(1, 2 * batch - 1)) : (batch + 7) / 8 * 8, captured, capture,
          replay, (long) batch * out[0][0].length, eager, host, ok ? "PASS" : "FAIL");
      return ok;
    }
  }

  static long differing(float[][] a, float[][] b) {
    long n = 0;
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[i].length; j++) {
        n += Float.floatToRawIntBits(a[i][j]) != Float.floatToRawIntBits(b[i][j]) ? 1 : 0;
      }
    }
    return n;
  }

  /** Bytes a decode step of {@code tokens} tokens reads from its weights, less the routed experts. */
  static long nonExpertBytes(ModelConfig c, int tokens) {
    long total = 0;
    for (Map.Entry<String, long[]> e : CheckpointLayout.tensors(c).entrySet()) {
      String name = e.getKey();
      long n = 1;
      for (long x : e.getValue()) {
        n *= x;
      }
      if (name.contains(".mlp.experts.")) {
        continue;
      }
      boolean fp32 = name.endsWith("mlp.gate.weight") || name.endsWith("e_score_correction_bias"); // kept in fp32
      total += name.equals("model.embed_tokens.weight") ? 2L * tokens * c.hiddenSize() : (fp32 ? 4 : 2) * n;
    }
    return total;
  }

  static void bench(int layers) throws Exception {
    ModelConfig c = air(layers);
    MoeConfig moe = c.moe().orElseThrow();
    try (CudaBackend backend = CudaBench.backend(0.95, Map.of("cuda.arenaBytes", Long.toString(8L << 30)))) {
      System.out.printf("device: %s; GLM-4.5-Air shapes with %d of its 46 layers (bf16: all 46 do not fit one "
          + "H200), random bf16 weights in host memory%n", backend.deviceDescription(), layers);
      long t0 = System.nanoTime();
      RandomWeights random = new RandomWeights(c);
      GlmModel m = GlmModel.load(c, Partition.whole(c), random, backend, LoadProgress.none());
      double loadS = (System.nanoTime() - t0) / 1e9;
      System.out.printf("loaded %.2f GB in %.1f s; device bytes in use %.2f GB%n", random.servedBytes() / 1e9, loadS,
          CudaDiagnosticsAccess.deviceBytesInUse(backend) / 1e9);
      double bw = CudaDiagnosticsAccess.copyBandwidthBytesPerSecond(backend, 2L << 30, 20);
      long expertBytes = 3L * moe.moeIntermediateSize() * c.hiddenSize() * 2;
      int moeLayers = c.numLayers() - Math.min(c.numLayers(), moe.firstKDenseReplace());
      int bs = 16;
      try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 1200, bs, c.numKvHeads(), c.headDim()))) {
        StepDriver d = new StepDriver(backend, m, kv);
        SplittableRandom r = new SplittableRandom(1);
        int graphsBefore = CudaDiagnosticsAccess.graphsCapturedTotal(); // the modes' settings changes drop those held
        for (int n : new int[] {1, 64}) {
          double experts = distinctExperts(backend, d, r, c, n);
          long bytes = nonExpertBytes(c, n) + Math.round(experts * moeLayers * expertBytes);
          double floorMs = bytes / bw * 1e3;
          long kvBytes = (long) n * 200 * c.numLayers() * c.numKvHeads() * c.headDim() * 2 * 2;
          System.out.printf(Locale.ROOT, "batch %d: %.1f distinct routed experts per MoE layer and step (of %d); "
                  + "weights read per step %.2f GB (routed experts %.2f GB); d2d copy %.2f TB/s; active-parameter "
                  + "floor %.2f ms = %.1f tok/s (KV reads at context ~200, not in the floor: %.3f GB)%n", n, experts,
              moe.numRoutedExperts(), bytes / 1e9, experts * moeLayers * expertBytes / 1e9, bw / 1e12, floorMs,
              n * 1e3 / floorMs, kvBytes / 1e9);
          for (int mode = 0; mode < 3; mode++) {
            boolean graphs = mode == 0;
            boolean device = mode < 2;
            CudaDiagnosticsAccess.setMoeDeviceRouting(backend, device);
            CudaDiagnosticsAccess.setFastPaths(backend, graphs, true);
            String label = (graphs ? "graphs" : "eager") + ", " + (device ? "device" : "host") + " routing";
            double ms = decode(d, r, c, n);
            System.out.printf(Locale.ROOT, "moe decode batch %d [%s]: TPOT %.2f ms = %.1f tok/s = %.1f%% of the "
                + "active-parameter floor (%.1f tok/s)%n", n, label, ms, n * 1e3 / ms, floorMs / ms * 100,
                n * 1e3 / floorMs);
          }
          CudaDiagnosticsAccess.setMoeDeviceRouting(backend, true);
          CudaDiagnosticsAccess.setFastPaths(backend, true, true);
          if (!"false".equals(System.getProperty("moe.profile"))) {
            CudaBench.Bench.profile(d, r, c, backend, n);
          }
        }
        System.out.println("decode graphs captured during the run: " + (CudaDiagnosticsAccess.graphsCapturedTotal()
            - graphsBefore) + " (held now " + CudaDiagnosticsAccess.capturedGraphs(backend) + ")");
      }
    }
  }

  /** n sequences prefilled with 128 random tokens (8 per step). */
  static List<Seq> prefill(StepDriver d, SplittableRandom r, ModelConfig c, int n, int maxTokens, int[] next) {
    List<Seq> seqs = d.sequences(n, maxTokens, 0, false);
    for (int from = 0; from < n; from += 8) {
      List<Chunk> chunks = new ArrayList<>();
      for (int i = from; i < Math.min(n, from + 8); i++) {
        chunks.add(new Chunk(seqs.get(i), CudaBench.randomTokens(r, 128, c.vocabSize())));
      }
      System.arraycopy(d.step(chunks, StepDriver.greedy(chunks.size(), 0)), 0, next, from, chunks.size());
    }
    return seqs;
  }

  /**
   * TPOT in ms of n sequences after a 128-token prefill: a warm-up of 4 decode steps (the bucket's eager step and its
   * capture), then 64 (batch 64) or 192 (batch 1) timed steps.
   */
  static double decode(StepDriver d, SplittableRandom r, ModelConfig c, int n) {
    int[] next = new int[n];
    int timed = n == 1 ? 192 : 64;
    List<Seq> seqs = prefill(d, r, c, n, 128 + 4 + timed, next);
    long start = 0;
    for (int step = 0; step < 4 + timed; step++) {
      if (step == 4) {
        start = System.nanoTime();
      }
      List<Chunk> chunks = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        chunks.add(new Chunk(seqs.get(i), new int[] {Math.floorMod(next[i], c.vocabSize())}));
      }
      next = d.step(chunks, StepDriver.greedy(n, step + 1));
    }
    return (System.nanoTime() - start) / 1e6 / timed;
  }

  /** Distinct routed experts per MoE layer and decode step of n sequences, over 8 eager steps (device routing). */
  static double distinctExperts(CudaBackend backend, StepDriver d, SplittableRandom r, ModelConfig c, int n) {
    int[] next = new int[n];
    List<Seq> seqs = prefill(d, r, c, n, 128 + 8, next);
    List<Set<Integer>> layers = new ArrayList<>();
    int[] calls = {0};
    MoeRouter.Observer o = (l, b, choice) -> {
      if (calls[0]++ % n == 0) {
        layers.add(new HashSet<>());
      }
      for (int x : choice.experts()) {
        layers.get(layers.size() - 1).add(x);
      }
    };
    CudaDiagnosticsAccess.setMoeDeviceRouting(backend, true);
    CudaDiagnosticsAccess.observeDeviceRouting(o);
    try {
      for (int step = 0; step < 8; step++) {
        List<Chunk> chunks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          chunks.add(new Chunk(seqs.get(i), new int[] {Math.floorMod(next[i], c.vocabSize())}));
        }
        next = d.step(chunks, StepDriver.greedy(n, step + 1));
      }
    } finally {
      CudaDiagnosticsAccess.observeDeviceRouting(null);
    }
    return layers.stream().mapToInt(Set::size).average().orElse(0);
  }
}

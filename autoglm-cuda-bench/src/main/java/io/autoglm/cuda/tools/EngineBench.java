package io.autoglm.cuda.tools;

import io.autoglm.AutoGLM;
import io.autoglm.testkit.Conformance;
import io.autoglm.EngineStats;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.model.ModelConfig;
import io.autoglm.testkit.ReferenceSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The engine on the GPU, through {@code AutoGLM.builder().backend("cuda")}: no DJL/PyTorch on the classpath.
 *
 * <pre>
 * EngineBench conformance FIXTURES_MODELS_DIR   Conformance.run on every fixture, single device and PP=2 on one GPU
 * EngineBench engine WORK_DIR                   9B-shape random checkpoint: throughput at 64/256, 2 × 1,000-request
 *                                               random-cancellation leak check
 * EngineBench overhead WORK_DIR [TOKENIZER]    engine vs direct: steady all-decode tok/s at 1/64/256, end-to-end
 *                                               256 x 128/128, delivery thread vs inline ({@link EngineOverheadBench})
 * EngineBench moe WORK_DIR [LAYERS]             glm-4.5-air-shaped random checkpoint: decode tok/s at batch 1, 64
 * EngineBench route FIXTURE BACKEND TRACE [REF]  MoE routing trace of every teacher-forced prompt on BACKEND (cpu,
 *                                               cuda) written to TRACE; with REF (another backend's trace), the
 *                                               routing and logits comparison of {@link RouteCheck#compare}
 * </pre>
 *
 * <p>{@code conformance} judges the dense fixtures by the fixtures README's metric, ‖logits − ref‖/‖ref‖ per
 * teacher-forced prompt (≤ 1e-2 for bf16 checkpoints, ≤ 2e-2 for fp32 ones, whose weights we round to bf16), plus
 * greedy tokens up to the first near-tie; MoE fixtures by {@link RouteCheck} against the CPU backend's traces
 * ({@link #moeConformance}). Every fixture directory under FIXTURES_MODELS_DIR is run.
 */
public final class EngineBench {
  private EngineBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: EngineBench conformance FIXTURES_MODELS_DIR | engine WORK_DIR | overhead WORK_DIR"
          + " [TOKENIZER_DIR] | moe WORK_DIR [LAYERS] | "
          + "tp FIXTURES_MODELS_DIR WORK_DIR [conf,speed,large]  (-Dtp=2, -Dgraphs=true)");
      System.exit(2);
    }
    boolean ok = switch (args[0]) {
      case "conformance" -> conformance(Path.of(args[1]));
      case "engine" -> engine(Path.of(args[1]));
      case "moe" -> moe(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 4);
      case "overhead" -> EngineOverheadBench.run(Path.of(args[1]), args.length > 2 ? Path.of(args[2]) : null);
      case "tp" -> TensorParallelBench.run(Path.of(args[1]), Path.of(args[2]), args.length > 3 ? args[3] : "conf,speed,large");
      case "route" -> route(Path.of(args[1]), args[2], Path.of(args[3]), args.length > 4 ? Path.of(args[4]) : null);
      default -> throw new IllegalArgumentException("unknown subcommand " + args[0] + " (conformance, engine, moe)");
    };
    System.out.println(ok ? "PASS" : "FAIL");
    System.exit(ok ? 0 : 1);
  }

  static AutoGLM.Builder cuda(Path model) {
    return AutoGLM.builder().modelPath(model).backend("cuda");
  }

  // ---------------------------------------------------------------- conformance

  /**
   * Tolerance: Conformance compares max |Δlogit|, so the bf16 bound of docs/benchmarks.md (relative 1e-2 for bf16
   * checkpoints, 2e-2 for fp32 ones) is applied to the largest |reference logit| of the fixture:
   * {@code maxAbs ≤ rel × max|ref|}.
   */
  static boolean conformance(Path models) {
    boolean ok = true;
    for (String name : CudaBench.fixtures(models)) {
      Path dir = models.resolve(name);
      ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
      double maxRef = 0;
      for (ReferenceSet.Prompt p : ref.prompts()) {
        for (float[][] rows : List.of(p.logits(), p.greedyLogits())) {
          for (float[] r : rows) {
            for (float v : r) {
              maxRef = Math.max(maxRef, Math.abs(v));
            }
          }
        }
      }
      ModelConfig c = ModelConfig.load(dir);
      double rel = c.dtype().equals("bfloat16") ? 1e-2 : 2e-2;
      double tol = rel * maxRef;
      try {
        ok &= fixture(dir, name, ref, tol, rel, maxRef);
      } catch (RuntimeException e) {
        System.out.println(name + ": FAILED with " + e);
        e.printStackTrace(System.out);
        ok = false;
      }
    }
    return ok;
  }

  static boolean fixture(Path dir, String name, ReferenceSet ref, double tol, double rel, double maxRef) {
      Conformance.Report single;
      List<List<Integer>> singleTokens;
      try (AutoGLM glm = small(cuda(dir)).build()) {
        single = Conformance.run(glm, dir.resolve("reference.safetensors"), tol, 3, 3, 7);
        singleTokens = greedy(glm, ref);
      }
      print(name + " single device (3 repeats, staggered arrivals)", single, rel, maxRef);
      Conformance.Report pp;
      List<List<Integer>> ppTokens;
      try (AutoGLM glm = small(cuda(dir)).pipelineParallel(2).devices(List.of(0)).build()) {
        pp = Conformance.run(glm, dir.resolve("reference.safetensors"), tol, 3, 3, 7);
        ppTokens = greedy(glm, ref);
      }
      print(name + " PP=2 on one GPU", pp, rel, maxRef);
      if (ModelConfig.load(dir).moe().isPresent()) {
        try (AutoGLM glm = small(cuda(dir)).backendProperty("cuda.moeGroupedMaxRows", "1000000").build()) {
          print(name + " single device, grouped GEMV kernel for every run of rows (no per-expert cuBLAS)",
              Conformance.run(glm, dir.resolve("reference.safetensors"), tol, 1, 0, 7), rel, maxRef);
        }
        try (AutoGLM glm = small(cuda(dir)).backendProperty("cuda.moeDeviceRouting", "false").build()) {
          print(name + " single device, MoE routing on the host (cuda.moeDeviceRouting=false: eager decode)",
              Conformance.run(glm, dir.resolve("reference.safetensors"), tol, 1, 0, 7), rel, maxRef);
        }
      }
      boolean same = singleTokens.equals(ppTokens);
      System.out.printf("%s: one-at-a-time greedy (24 tokens per prompt): PP=2 tokens %s single-device tokens%n",
          name, same ? "==" : "!=");
      boolean greedyOk = single.prompts().stream().allMatch(Conformance.PromptReport::greedyOk)
          && pp.prompts().stream().allMatch(Conformance.PromptReport::greedyOk);
      boolean metricOk;
      if (ModelConfig.load(dir).moe().isPresent()) {
        metricOk = moeConformance(dir, name);
      } else {
        metricOk = true;
        try (AutoGLM glm = small(cuda(dir)).build()) {
          for (ReferenceSet.Prompt p : ref.prompts()) {
            double[] m = RouteCheck.relL2(Conformance.teacherForcedLogits(glm, p.teacherForced()), p,
                p.teacherForced().length);
            boolean ok = m[0] <= rel;
            metricOk &= ok;
            System.out.printf(java.util.Locale.ROOT, "%s prompt %d (%d teacher-forced positions): ‖Δ‖/‖ref‖ %.3g "
                + "(bound %.0e), max|Δ| %.4g: %s%n", name, p.index(), p.teacherForced().length, m[0], rel, m[1],
                ok ? "PASS" : "FAIL");
          }
        }
      }
      boolean pass = metricOk && greedyOk && same;
      System.out.printf("%s: %s (norm-relative metric %s, greedy up to the first near-tie %s, PP=2 == single %s)%n",
          name, pass ? "PASS" : "FAIL", metricOk ? "ok" : "FAIL", greedyOk ? "ok" : "FAIL", same ? "ok" : "FAIL");
      return pass;
  }

  /**
   * A MoE fixture on CUDA against the CPU backend's routing trace and the fp32 logits: the trace is
   * {@code route-cpu-NAME.txt} in {@code -DrouteRefDir} (for glm4moe-tiny also {@code -DrouteRef=FILE}); the CUDA
   * trace goes to {@code route-cuda-NAME.txt} in {@code -DrouteOutDir} (or {@code -DrouteOut=FILE}).
   */
  static boolean moeConformance(Path dir, String name) {
    String refDir = System.getProperty("routeRefDir");
    String outDir = System.getProperty("routeOutDir");
    boolean tiny = name.equals("glm4moe-tiny");
    String refTrace = refDir != null ? refDir + "/route-cpu-" + name + ".txt" : tiny ? System.getProperty("routeRef")
        : null;
    if (refTrace == null || !Files.exists(Path.of(refTrace))) {
      System.out.println(name + ": no CPU routing trace (" + (refTrace == null ? "set -DrouteRefDir" : refTrace
          + " missing") + "), routing not compared: FAIL");
      return false;
    }
    String out = outDir != null ? outDir + "/route-cuda-" + name + ".txt"
        : tiny ? System.getProperty("routeOut", "/tmp/route-cuda.txt") : "/tmp/route-cuda-" + name + ".txt";
    return route(dir, "cuda", Path.of(out), Path.of(refTrace));
  }

  /** The MoE routing trace of {@code backend} on every teacher-forced prompt; compared with {@code refTrace}. */
  static boolean route(Path dir, String backend, Path out, Path refTrace) {
    ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
    ModelConfig c = ModelConfig.load(dir);
    List<List<float[]>> logits = new ArrayList<>();
    List<RouteCheck.Routed> trace;
    try (AutoGLM glm = small(AutoGLM.builder().modelPath(dir).backend(backend)).maxBatchTokens(1024).build()) {
      trace = RouteCheck.trace(glm, ref, logits);
    }
    RouteCheck.write(trace, out);
    System.out.printf("route: %s, %d routed tokens written to %s%n", backend, trace.size(), out);
    for (ReferenceSet.Prompt p : ref.prompts()) {
      double[] m = RouteCheck.relL2(logits.get(p.index()), p, p.teacherForced().length);
      System.out.printf(java.util.Locale.ROOT, "  %s prompt %d: logits ‖Δ‖/‖ref‖ %.3g, max|Δ| %.4g (all %d "
          + "positions, vs the fp32 reference)%n", backend, p.index(), m[0], m[1], p.teacherForced().length);
    }
    if (refTrace == null) {
      return true;
    }
    double rel = c.dtype().equals("bfloat16") ? 1e-2 : 2e-2;
    StringBuilder log = new StringBuilder();
    List<RouteCheck.PromptResult> r = RouteCheck.compare(trace, RouteCheck.read(refTrace), ref, logits,
        c.moe().orElseThrow().numExpertsPerToken(), c.moe().orElseThrow().numGroups(),
        c.moe().orElseThrow().topKGroups(), rel, log);
    System.out.print(log);
    boolean ok = r.stream().allMatch(RouteCheck.PromptResult::ok);
    System.out.printf("route: %s vs %s: %s (rel bound %.0e before the first routing difference; a difference only "
        + "at a near-tie)%n", backend, refTrace, ok ? "PASS" : "FAIL", rel);
    return ok;
  }

  static AutoGLM.Builder small(AutoGLM.Builder b) {
    return b.kvBlocks(512).kvBlockSizeTokens(8).backendProperty("cuda.arenaBytes", Long.toString(256L << 20));
  }

  static List<List<Integer>> greedy(AutoGLM glm, ReferenceSet ref) {
    List<List<Integer>> out = new ArrayList<>();
    for (ReferenceSet.Prompt p : ref.prompts()) {
      out.add(glm.generate(ids(p.inputIds()), SamplingParams.builder().maxNewTokens(24).ignoreEos(true).build())
          .tokenIds());
    }
    return out;
  }

  static void print(String label, Conformance.Report r, double rel, double maxRef) {
    System.out.printf("%s: %s, max|Δlogit| %.4g (= %.3g of max|ref| %.3f; tolerance %.4g = %.0e × max|ref|)%n",
        label, r.passed() ? "PASS" : "FAIL", r.maxAbsLogitDiff(), r.maxAbsLogitDiff() / maxRef, maxRef,
        r.tolerance(), rel);
    for (Conformance.PromptReport p : r.prompts()) {
      System.out.printf("  prompt %d (%d tokens): max|Δ| %.4g, decode max|Δ| %.4g, greedy %d/%d agree (%d before "
          + "the first near-tie)%n", p.index(), p.promptTokens(), p.maxAbsLogitDiff(), p.decodeMaxAbsLogitDiff(),
          p.greedyAgreed(), p.greedySteps(), p.comparableSteps());
    }
  }

  static List<Integer> ids(int[] a) {
    List<Integer> l = new ArrayList<>(a.length);
    for (int v : a) {
      l.add(v);
    }
    return l;
  }

  // ---------------------------------------------------------------- engine: throughput + leak

  static boolean engine(Path work) throws Exception {
    Path dir = randomCheckpoint9b(work);
    long before = CudaDiagnosticsAccess.deviceMemoryInUse(0);
    boolean ok;
    long t0 = System.nanoTime();
    try (AutoGLM glm = cuda(dir).kvBlocks(24_000).kvBlockSizeTokens(16).maxRunningSequences(256)
        .maxBatchTokens(1024).prefixCaching(false).backendProperty("cuda.graphs", Boolean.toString(
            !Boolean.getBoolean("noGraphs"))).build()) {
      long loaded = CudaDiagnosticsAccess.deviceMemoryInUse(0);
      System.out.printf("loaded in %.1f s; device bytes in use: before %d, after load %d%n",
          (System.nanoTime() - t0) / 1e9, before, loaded);
      SplittableRandom r = new SplittableRandom(1);
      int vocab = glm.config().vocabSize();
      boolean graphs = !Boolean.getBoolean("noGraphs");
      long warm = warmUp(glm, r, vocab, loaded);
      ok = leakRounds(glm, r, vocab, warm, loaded);
      System.out.printf("leak check (graphs %s): %s%n", graphs ? "on" : "off", ok ? "OK" : "GROWS");
    }
    System.out.printf("after close: device bytes in use %d (before load %d, %+d)%n", CudaDiagnosticsAccess.deviceMemoryInUse(0),
        before, CudaDiagnosticsAccess.deviceMemoryInUse(0) - before);
    return ok;
  }

  /** The random checkpoint at glm-4-9b-chat shapes in {@code work}, written first when it is not there. */
  static Path randomCheckpoint9b(Path work) throws java.io.IOException {
    Path dir = work.resolve("glm-4-9b-chat-random");
    if (!Files.exists(dir.resolve("model.safetensors"))) {
      long t0 = System.nanoTime();
      FastRandomCheckpoint.write(dir);
      System.out.printf("wrote %s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
    }
    return dir;
  }

  /**
   * Warm-up: every decode bucket's graph (eager step, capture, replay), then one short mixed round so lazy
   * allocations (cuBLAS workspaces of prefill shapes, module loading) are done, then the throughput runs (full
   * 256-row decode and 1,024-token prefill steps). Returns the device bytes in use after it: the leak baseline.
   */
  static long warmUp(AutoGLM glm, SplittableRandom r, int vocab, long loaded) throws Exception {
    long w0 = System.nanoTime();
    int buckets = 0;
    for (int b = 1; b <= 256; b = nextBucket(b)) {
      run(glm, r, vocab, b, 4, 8);
      buckets++;
    }
    leakRound(glm, r, vocab, 100, -1);
    awaitIdle(glm);
    long mixed = CudaDiagnosticsAccess.deviceMemoryInUse(0);
    System.out.printf("after %d decode buckets × 8 tokens and 100 mixed requests (%.1f s): device bytes in use %d "
        + "(post-load %+d); CUDA graphs captured %d%n", buckets, (System.nanoTime() - w0) / 1e9, mixed,
        mixed - loaded, CudaDiagnosticsAccess.graphsCapturedTotal());
    for (int[] t : new int[][] {{1, 256}, {64, 128}, {256, 128}}) {
      throughput(glm, r, vocab, t[0], 128, t[1]);
      long now = CudaDiagnosticsAccess.deviceMemoryInUse(0);
      System.out.printf("  device bytes in use %d (vs the line above's %+d); graphs %d%n", now, now - mixed,
          CudaDiagnosticsAccess.graphsCapturedTotal());
      mixed = now;
    }
    return CudaDiagnosticsAccess.deviceMemoryInUse(0);
  }

  /** {@code -DleakRounds} rounds of 1,000 requests: true when device memory and the graph count stay flat. */
  static boolean leakRounds(AutoGLM glm, SplittableRandom r, int vocab, long warm, long loaded)
      throws Exception {
    int graphsWarm = CudaDiagnosticsAccess.graphsCapturedTotal();
    System.out.printf("post-warm-up baseline: device bytes in use %d (post-load %+d); CUDA graphs captured %d%n",
        warm, warm - loaded, graphsWarm);
    boolean ok = true;
    int rounds = Integer.getInteger("leakRounds", 3);
    for (int round = 0; round < rounds; round++) {
      leakRound(glm, r, vocab, 1000, round);
      awaitIdle(glm);
      long now = CudaDiagnosticsAccess.deviceMemoryInUse(0);
      boolean flat = now == warm && CudaDiagnosticsAccess.graphsCapturedTotal() == graphsWarm;
      ok &= flat;
      System.out.printf("leak round %d: device bytes in use %d (vs post-warm-up %+d, vs post-load %+d); CUDA "
          + "graphs captured so far %d (after warm-up %d): %s%n", round + 1, now, now - warm, now - loaded,
          CudaDiagnosticsAccess.graphsCapturedTotal(), graphsWarm, flat ? "FLAT" : "GROWS");
    }
    return ok;
  }

  /** The decode bucket after {@code b} ({@code CudaForwardStep.bucket}: powers of two to 8, then +8 to 64, +32). */
  static int nextBucket(int b) {
    return b < 8 ? b * 2 : b < 64 ? b + 8 : b + 32;
  }

  /**
   * n concurrent requests with random {@code promptLen}-token prompts: one run of 1 new token (prefill + first
   * token) and one of {@code newTokens + 1}; decode throughput = n·newTokens / (t(newTokens+1) − t(1)).
   */
  static void throughput(AutoGLM glm, SplittableRandom r, int vocab, int n, int promptLen, int newTokens) {
    run(glm, r, vocab, n, promptLen, 8); // warm-up: captures the decode graphs of this batch size
    double t1 = run(glm, r, vocab, n, promptLen, 1);
    EngineStats s0 = glm.stats();
    double tn = run(glm, r, vocab, n, promptLen, newTokens + 1);
    EngineStats s1 = glm.stats();
    double decode = tn - t1;
    System.out.printf("engine n=%d prompt %d: prefill+first token %.1f ms; %d new tokens %.1f ms; decode %.1f "
            + "tok/s (TPOT %.2f ms); end-to-end output %.1f tok/s; steps %d, forward share %.0f%%%n",
        n, promptLen, t1 * 1e3, newTokens + 1, tn * 1e3, (double) n * newTokens / decode, decode / newTokens * 1e3,
        n * (newTokens + 1) / tn, s1.steps() - s0.steps(),
        100.0 * (s1.forwardNanos() - s0.forwardNanos()) / Math.max(1, s1.stepNanos() - s0.stepNanos()));
  }

  static double run(AutoGLM glm, SplittableRandom r, int vocab, int n, int promptLen, int newTokens) {
    SamplingParams p = SamplingParams.builder().maxNewTokens(newTokens).ignoreEos(true).build();
    List<GenerationHandle> hs = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      hs.add(glm.submit(ids(CudaBench.randomTokens(r, promptLen, vocab)), p));
    }
    for (GenerationHandle h : hs) {
      GenerationResult g = h.result().join();
      if (g.tokenIds().size() != newTokens) {
        throw new IllegalStateException("request made " + g.tokenIds().size() + " tokens, expected " + newTokens);
      }
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /** {@code count} requests, at most 256 in flight; 30% are cancelled after a random 0..150 ms. */
  static void leakRound(AutoGLM glm, SplittableRandom r, int vocab, int count, int round) throws Exception {
    Semaphore inFlight = new Semaphore(256);
    List<GenerationHandle> all = new ArrayList<>();
    int cancelled = 0;
    long tokens = 0;
    long t0 = System.nanoTime();
    java.util.concurrent.ScheduledExecutorService timer = java.util.concurrent.Executors
        .newSingleThreadScheduledExecutor();
    for (int i = 0; i < count; i++) {
      inFlight.acquire();
      int prompt = 1 + r.nextInt(r.nextBoolean() ? 64 : 1024);
      SamplingParams p = SamplingParams.builder().maxNewTokens(1 + r.nextInt(128)).ignoreEos(true)
          .temperature(r.nextBoolean() ? 0 : 0.8).seed(r.nextLong()).build();
      GenerationHandle h = glm.submit(ids(CudaBench.randomTokens(r, prompt, vocab)), p);
      h.result().whenComplete((g, e) -> inFlight.release());
      if (r.nextInt(10) < 3) {
        cancelled++;
        timer.schedule(h::cancel, r.nextInt(151), TimeUnit.MILLISECONDS);
      }
      all.add(h);
    }
    for (GenerationHandle h : all) {
      try {
        tokens += h.result().join().tokenIds().size();
      } catch (RuntimeException e) {
        // a cancelled request may complete exceptionally; its blocks must still come back
      }
    }
    timer.shutdown();
    System.out.printf("leak round %d: %d requests (%d cancelled at random times), %d tokens generated in %.1f s; "
        + "engine: %s%n", round + 1, count, cancelled, tokens, (System.nanoTime() - t0) / 1e9, glm.stats());
  }

  static void awaitIdle(AutoGLM glm) throws InterruptedException {
    for (int i = 0; i < 200 && (glm.stats().running() > 0 || glm.stats().waiting() > 0 || glm.stats().kvUsage() > 0);
        i++) {
      Thread.sleep(25);
    }
    Thread.sleep(200);
    System.out.println("idle: " + glm.stats());
  }

  // ---------------------------------------------------------------- MoE decode

  static final String AIR = """
      {"architectures":["Glm4MoeForCausalLM"],"model_type":"glm4_moe","attention_bias":true,"head_dim":128,
       "hidden_act":"silu","hidden_size":4096,"partial_rotary_factor":0.5,"intermediate_size":10944,
       "max_position_embeddings":131072,"moe_intermediate_size":1408,"norm_topk_prob":true,
       "num_attention_heads":96,"n_group":1,"topk_group":1,"n_routed_experts":128,"n_shared_experts":1,
       "routed_scaling_factor":1.0,"num_experts_per_tok":8,"first_k_dense_replace":1,"num_hidden_layers":%d,
       "num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_scaling":null,"rope_theta":1000000,
       "num_nextn_predict_layers":0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
       "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"use_qk_norm":false,"vocab_size":151552}""";

  static boolean moe(Path work, int layers) throws Exception {
    Path dir = work.resolve("glm-4.5-air-random-" + layers);
    if (!Files.exists(dir.resolve("model.safetensors"))) {
      long t0 = System.nanoTime();
      FastRandomCheckpoint.write(dir, String.format(AIR, layers));
      System.out.printf("wrote %s (glm-4.5-air shapes, %d layers) in %.1f s%n", dir, layers,
          (System.nanoTime() - t0) / 1e9);
    }
    long t0 = System.nanoTime();
    try (AutoGLM glm = cuda(dir).kvBlocks(8_000).kvBlockSizeTokens(16).maxRunningSequences(256)
        .maxBatchTokens(2048).prefixCaching(false).build()) {
      System.out.printf("loaded in %.1f s; device bytes in use %d%n", (System.nanoTime() - t0) / 1e9,
          CudaDiagnosticsAccess.deviceMemoryInUse(0));
      SplittableRandom r = new SplittableRandom(2);
      int vocab = glm.config().vocabSize();
      throughput(glm, r, vocab, 1, 128, 128);
      throughput(glm, r, vocab, 64, 128, 64);
    }
    return true;
  }
}

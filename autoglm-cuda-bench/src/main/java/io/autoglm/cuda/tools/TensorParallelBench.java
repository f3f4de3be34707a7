package io.autoglm.cuda.tools;

import io.autoglm.AutoGLM;
import io.autoglm.testkit.Conformance;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.model.ModelConfig;
import io.autoglm.testkit.ReferenceSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code EngineBench tp}: tensor parallelism over NCCL on TP GPUs of this machine, through the engine (conformance
 * against the single-GPU logits, decode speed at TP=1 and TP=N, a checkpoint larger than one GPU), with a watchdog
 * that dumps the threads when the run stalls.
 */
final class TensorParallelBench {
  private TensorParallelBench() {}


  /** GLM-4-32B-0414's shapes; the layer count is chosen so the checkpoint exceeds one GPU's memory. */
  static final String GLM4_32B = """
      {"architectures":["Glm4ForCausalLM"],"model_type":"glm4","attention_bias":true,"head_dim":128,
       "hidden_act":"silu","hidden_size":6144,"intermediate_size":23040,"max_position_embeddings":32768,
       "num_attention_heads":48,"num_hidden_layers":%d,"num_key_value_heads":2,"partial_rotary_factor":0.5,
       "rms_norm_eps":1e-05,"rope_theta":10000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
       "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"vocab_size":151552}""";

  /**
   * Tensor parallelism over NCCL on {@code -Dtp} GPUs (default 2): {@code conf} — every fixture at TP=N against the
   * fp32 references (the single-GPU bound) and against the single-GPU logits; {@code speed} — decode through the
   * engine at 1 / 64 / 256 concurrent requests on glm-4-9b-chat shapes, TP=1 then TP=N in this process;
   * {@code large} — a GLM-4-32B-shaped checkpoint with more layers than one GPU holds, loaded and run at TP=N.
   */
  static boolean run(Path models, Path work, String what) throws Exception {
    int tp = Integer.getInteger("tp", 2);
    boolean graphs = Boolean.parseBoolean(System.getProperty("graphs", "true"));
    List<Integer> devices = new ArrayList<>();
    for (int d = 0; d < tp; d++) {
      devices.add(d);
    }
    System.out.printf("TP=%d on devices %s, graphs %s; NCCL %s%n", tp, devices, graphs,
        CudaDiagnosticsAccess.ncclVersion());
    watchdog(Integer.getInteger("stallSeconds", 90));
    System.out.printf("before loading: device bytes in use %s%n", inUse(tp));
    boolean ok = true;
    if (what.contains("conf")) {
      ok &= tpConformance(models, tp, devices);
    }
    if (what.contains("speed")) {
      tpSpeed(work, tp, devices, graphs);
    }
    if (what.contains("large")) {
      tpLarge(work, tp, devices, graphs);
    }
    return ok;
  }

  /** Decode through the engine at 1 / 64 / 256 concurrent requests on glm-4-9b-chat shapes, TP=1 then TP=tp. */
  static void tpSpeed(Path work, int tp, List<Integer> devices, boolean graphs) throws Exception {
    Path dir = EngineBench.randomCheckpoint9b(work);
    for (int n : new int[] {1, tp}) {
      long t0 = System.nanoTime();
      try (AutoGLM glm = EngineBench.cuda(dir).tensorParallel(n).devices(devices.subList(0, n)).kvBlocks(24_000)
          .kvBlockSizeTokens(16).maxRunningSequences(256).maxBatchTokens(1024).prefixCaching(false)
          .backendProperty("cuda.graphs", Boolean.toString(graphs)).build()) {
        System.out.printf("glm-4-9b-chat shapes, TP=%d: loaded in %.1f s; device bytes in use %s%n", n,
            (System.nanoTime() - t0) / 1e9, inUse(tp));
        SplittableRandom r = new SplittableRandom(5);
        int vocab = glm.config().vocabSize();
        for (int[] t : new int[][] {{1, 256}, {64, 128}, {256, 128}}) {
          System.out.print("TP=" + n + " ");
          EngineBench.throughput(glm, r, vocab, t[0], 128, t[1]);
        }
      }
      System.out.printf("after close: device bytes in use %s%n", inUse(tp));
    }
  }

  /** A GLM-4-32B-shaped checkpoint with more layers than one GPU holds, loaded and run at TP=tp. */
  static void tpLarge(Path work, int tp, List<Integer> devices, boolean graphs) throws Exception {
    long total = CudaDiagnosticsAccess.deviceMemoryTotal(0);
    long perLayer = 2L * (2L * 6144 * 6144 + 2L * 256 * 6144 + 3L * 23040 * 6144); // q, o, k, v, gate, up, down
    long fixed = 2L * 2 * 151552 * 6144; // embedding + lm_head
    int layers = (int) Math.ceil((1.08 * total - fixed) / perLayer);
    long bytes = fixed + layers * perLayer;
    long freeDisk = Files.getFileStore(work).getUsableSpace();
    if (bytes > 0.9 * freeDisk) {
      System.out.printf("large: a checkpoint over one GPU's %.1f GB needs %.1f GB of disk, %.1f GB free: "
          + "SKIPPED%n", total / 1e9, bytes / 1e9, freeDisk / 1e9);
    } else {
      Path dir = work.resolve("glm-4-32b-0414-random-" + layers);
      if (!Files.exists(dir.resolve("model.safetensors"))) {
        long t0 = System.nanoTime();
        FastRandomCheckpoint.write(dir, String.format(GLM4_32B, layers));
        System.out.printf("wrote %s (GLM-4-32B-0414 shapes, %d layers, %.1f GB > one GPU's %.1f GB) in %.1f s%n",
            dir, layers, bytes / 1e9, total / 1e9, (System.nanoTime() - t0) / 1e9);
      }
      long t0 = System.nanoTime();
      try (AutoGLM glm = EngineBench.cuda(dir).tensorParallel(tp).devices(devices).kvBlocks(4_000)
          .kvBlockSizeTokens(16).maxRunningSequences(64).maxBatchTokens(1024).prefixCaching(false)
          .backendProperty("cuda.graphs", Boolean.toString(graphs)).build()) {
        System.out.printf("large (%d layers, %.1f GB of weights), TP=%d: loaded in %.1f s; device bytes in use %s%n",
            layers, bytes / 1e9, tp, (System.nanoTime() - t0) / 1e9, inUse(tp));
        SplittableRandom r = new SplittableRandom(6);
        int vocab = glm.config().vocabSize();
        System.out.print("large TP=" + tp + " ");
        EngineBench.throughput(glm, r, vocab, 1, 128, 64);
        System.out.print("large TP=" + tp + " ");
        EngineBench.throughput(glm, r, vocab, 64, 128, 32);
      }
    }
  }

  static volatile long lastProgress = System.nanoTime();

  /** Prints every thread's stack and exits when no line was printed for {@code seconds} (a hang in a collective). */
  static void watchdog(int seconds) {
    java.io.PrintStream out = System.out;
    System.setOut(new java.io.PrintStream(out, true) {
      @Override
      public void println(String x) {
        lastProgress = System.nanoTime();
        super.println(x);
      }

      @Override
      public java.io.PrintStream printf(String format, Object... args) {
        lastProgress = System.nanoTime();
        return super.printf(format, args);
      }
    });
    Thread t = new Thread(() -> {
      while (true) {
        try {
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          return;
        }
        if (System.nanoTime() - lastProgress > seconds * 1_000_000_000L) {
          out.printf("STALLED: nothing printed for %d s; threads:%n", seconds);
          Thread.getAllStackTraces().forEach((th, st) -> {
            out.println("  " + th.getName() + " " + th.getState());
            for (int i = 0; i < Math.min(st.length, 14); i++) {
              out.println("    at " + st[i]);
            }
          });
          out.flush();
          Runtime.getRuntime().halt(3);
        }
      }
    }, "watchdog");
    t.setDaemon(true);
    t.start();
  }

  static String inUse(int devices) {
    List<String> out = new ArrayList<>();
    for (int d = 0; d < devices; d++) {
      out.add(String.format("GPU%d %.2f GB", d, CudaDiagnosticsAccess.deviceMemoryInUse(d) / 1e9));
    }
    return String.join(", ", out);
  }

  /** Each fixture at TP=N: the same bounds as the single GPU, and the distance to the single GPU's logits. */
  static boolean tpConformance(Path models, int tp, List<Integer> devices) {
    boolean ok = true;
    for (String name : List.of("glm-tiny", "glm4-tiny", "glm4-tiny-bf16", "glm4moe-tiny")) {
      Path dir = models.resolve(name);
      ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
      ModelConfig c = ModelConfig.load(dir);
      double rel = c.dtype().equals("bfloat16") ? 1e-2 : 2e-2;
      boolean moe = c.moe().isPresent();
      List<List<float[]>> single = new ArrayList<>();
      List<List<Integer>> singleTokens;
      try (AutoGLM glm = EngineBench.small(EngineBench.cuda(dir)).build()) {
        for (ReferenceSet.Prompt p : ref.prompts()) {
          single.add(Conformance.teacherForcedLogits(glm, p.teacherForced()));
        }
        singleTokens = EngineBench.greedy(glm, ref);
      }
      try (AutoGLM glm = EngineBench.small(EngineBench.cuda(dir)).tensorParallel(tp).devices(devices).build()) {
        List<List<Integer>> tpTokens = EngineBench.greedy(glm, ref);
        int agree = 0;
        int total = 0;
        for (int i = 0; i < tpTokens.size(); i++) {
          List<Integer> a = tpTokens.get(i);
          List<Integer> b = singleTokens.get(i);
          int k = 0;
          while (k < a.size() && k < b.size() && a.get(k).equals(b.get(k))) {
            k++;
          }
          agree += k;
          total += b.size();
        }
        for (ReferenceSet.Prompt p : ref.prompts()) {
          List<float[]> got = Conformance.teacherForcedLogits(glm, p.teacherForced());
          double[] vsRef = RouteCheck.relL2(got, p, p.teacherForced().length);
          double[] vsSingle = relL2(got, single.get(p.index()));
          boolean pass = moe || vsRef[0] <= rel;
          ok &= pass;
          System.out.printf(java.util.Locale.ROOT, "%s TP=%d prompt %d (%d positions): vs fp32 reference ‖Δ‖/‖ref‖ "
              + "%.3g (bound %.0e%s), max|Δ| %.4g; vs single GPU ‖Δ‖/‖single‖ %.3g, max|Δ| %.4g: %s%n", name, tp,
              p.index(), p.teacherForced().length, vsRef[0], rel, moe ? ", reported only: MoE routing may flip at "
              + "near-ties" : "", vsRef[1], vsSingle[0], vsSingle[1], pass ? "PASS" : "FAIL");
        }
        System.out.printf("%s TP=%d greedy, 24 tokens per prompt: %d of %d tokens equal the single GPU's "
            + "(each prompt counted up to its first difference)%n", name, tp, agree, total);
      }
      System.out.printf("%s: after close, device bytes in use %s%n", name, inUse(tp));
    }
    return ok;
  }

  static double[] relL2(List<float[]> got, List<float[]> ref) {
    boolean[] all = new boolean[got.size()];
    java.util.Arrays.fill(all, true);
    return RouteCheck.relL2(got, ref::get, all);
  }
}

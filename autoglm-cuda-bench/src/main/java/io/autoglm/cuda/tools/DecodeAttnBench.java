package io.autoglm.cuda.tools;

import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.tools.StepDriver.Chunk;
import io.autoglm.cuda.tools.StepDriver.Seq;
import io.autoglm.model.GlmModel;
import io.autoglm.model.LoadProgress;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.Partition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The tensor-core decode attention ({@code cuda.decodeAttnTc}) at glm-4-9b-chat shapes, random bf16 weights in host
 * memory, one process: {@code java ... DecodeAttnBench WORK_DIR}. First an end-to-end check (the fixtures' heads are
 * too narrow for the kernel), then per {@code -Dbench.decodeAttnTcs} value (default 1,0: forced on, off) the per-op
 * profiles at {@code -Dbench.profileBatches} (default 64,256) and decode tok/s at batch 64 and 256 (CUDA graphs), the
 * measurements of {@code CudaBench bench}. With {@code -Dbench.tune=true} instead {@link DecodeAttnTuning}: the
 * kernel's variants and split targets, each self-checked, timed alone and end to end.
 */
final class DecodeAttnBench {
  private static final int BATCH = 64;
  private static final int PROMPT = 128;

  private DecodeAttnBench() {}

  /** What the bench's parts share: the backend, the model's step driver, the random stream, the model's config. */
  record Env(CudaBackend backend, StepDriver driver, SplittableRandom random, ModelConfig config) {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "/tmp/work").resolve("glm-4-9b-chat-config");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), FastRandomCheckpoint.config("glm-4-9b-chat"));
    ModelConfig c = ModelConfig.load(dir);
    boolean ok;
    try (CudaBackend backend = CudaBench.backend(0.92, Map.of())) {
      GlmModel m = GlmModel.load(c, Partition.whole(c), new RandomWeights(c), backend, LoadProgress.none());
      int bs = 16;
      try (KvCache kv = backend.allocateKv(new KvLayout(c.numLayers(), 12_000, bs, c.numKvHeads(), c.headDim()))) {
        StepDriver d = new StepDriver(backend, m, kv);
        SplittableRandom r = new SplittableRandom(1);
        ok = Boolean.getBoolean("bench.tune") ? DecodeAttnTuning.run(new Env(backend, d, r, c))
            : onOff(d, r, c, backend);
      }
    }
    System.exit(ok ? 0 : 1);
  }

  /** The end-to-end check, then per -Dbench.decodeAttnTcs value the profiles and batch 64 / 256 decode tok/s. */
  private static boolean onOff(StepDriver d, SplittableRandom r, ModelConfig c, CudaBackend backend) {
    boolean ok = check(d, r, c, backend);
    for (String v : System.getProperty("bench.decodeAttnTcs", "1,0").split(",")) {
      int t = Integer.parseInt(v.trim());
      CudaDiagnosticsAccess.setDecodeAttnTc(backend, t);
      System.out.println("cuda.decodeAttnTc " + t + (t == 0 ? " (off):" : ":"));
      for (String n : System.getProperty("bench.profileBatches", "64,256").split(",")) {
        CudaBench.Bench.profile(d, r, c, backend, Integer.parseInt(n.trim()));
      }
      CudaBench.Bench.batch(d, r, c, 64);
      CudaBench.Bench.batch(d, r, c, 256);
    }
    return ok;
  }

  /**
   * End to end: the logits of one decode step of {@value #BATCH} sequences after {@value #PROMPT}-token prompts
   * (prompts and decode tokens the same in every run, each run on its own blocks; the prompts run the prefill kernel
   * in every run, so the caches are equal) with the tensor-core kernel forced on, against the same step with it off.
   * On a random 40-layer model one-ulp differences grow, so the reference is the difference between accepted paths:
   * the decode kernels under cuda.attnVariant 1 vs 2. Batched == single: sequence 0 alone against its row in the
   * batch, with the kernel on, against the same difference with it off (GEMV vs GEMM). Each passes within 3× its
   * reference, with the argmax equal except at a near tie ({@link #nearTie}).
   */
  static boolean check(StepDriver d, SplittableRandom r, ModelConfig c, CudaBackend backend) {
    int[][] prompts = new int[BATCH][];
    int[] next = CudaBench.randomTokens(r, BATCH, c.vocabSize());
    for (int i = 0; i < BATCH; i++) {
      prompts[i] = CudaBench.randomTokens(r, PROMPT, c.vocabSize());
    }
    int variant = CudaDiagnosticsAccess.attentionVariant(backend);
    float[][] off = decode(d, backend, prompts, next, BATCH, 0, 0, variant);
    float[][] on = decode(d, backend, prompts, next, BATCH, 1, 1, variant);
    float[][] other = decode(d, backend, prompts, next, BATCH, 2, 0, variant == 1 ? 2 : 1);
    float[] singleOn = decode(d, backend, prompts, next, 1, 3, 1, variant)[0];
    float[] singleOff = decode(d, backend, prompts, next, 1, 4, 0, variant)[0];
    CudaDiagnosticsAccess.setAttentionVariant(backend, variant);
    CudaDiagnosticsAccess.setDecodeAttnTc(backend, Integer.getInteger("cuda.decodeAttnTc", 0));
    double relOn = rel(on, off);
    double refVariant = rel(other, off);
    int ties = 0;
    int argmaxDiffer = 0;
    for (int i = 0; i < BATCH; i++) {
      boolean tie = nearTie(on[i], off[i], other[i], off[i]);
      ties += tie && argmax(on[i]) != argmax(off[i]) ? 1 : 0;
      argmaxDiffer += !tie && argmax(on[i]) != argmax(off[i]) ? 1 : 0;
    }
    boolean passBatch = refVariant > 0 && relOn <= 3 * refVariant && argmaxDiffer == 0;
    System.out.printf(Locale.ROOT, "decode attention (tensor cores) end to end, batch %d after %d-token prompts: logits "
            + "rel %.2e vs the decode kernels; reference cuda.attnVariant %d vs %d rel %.2e, bound 3x; argmax differs"
            + " in %d rows (%d more at near ties)  %s%n", BATCH, PROMPT, relOn, variant == 1 ? 2 : 1, variant,
        refVariant, argmaxDiffer, ties, passBatch ? "PASS" : "FAIL");
    double relSingleOn = rel(new float[][] {singleOn}, new float[][] {on[0]});
    double relSingleOff = rel(new float[][] {singleOff}, new float[][] {off[0]});
    boolean tie = nearTie(singleOn, on[0], singleOff, off[0]);
    boolean passSingle = relSingleOn <= 3 * Math.max(relSingleOff, 1e-6)
        && (tie || argmax(singleOn) == argmax(on[0]));
    System.out.printf(Locale.ROOT, "decode attention (tensor cores) batched == single: sequence 0 alone vs in the batch"
            + " rel %.2e with the kernel on, %.2e off (bound 3x)%s  %s%n", relSingleOn, relSingleOff,
        tie && argmax(singleOn) != argmax(on[0]) ? " (argmax differs at a near tie)" : "", passSingle ? "PASS" : "FAIL");
    return passBatch && passSingle;
  }

  /** The logits of one decode step of the first n sequences (run `run`: its own blocks) under the given settings. */
  private static float[][] decode(StepDriver d, CudaBackend backend, int[][] prompts, int[] next, int n, int run,
      int tc, int variant) {
    CudaDiagnosticsAccess.setDecodeAttnTc(backend, tc);
    CudaDiagnosticsAccess.setAttentionVariant(backend, variant);
    int per = (PROMPT + 16 + 15) / 16;
    List<Seq> seqs = d.sequences(n, PROMPT + 16, run * BATCH * per, false);
    for (int from = 0; from < n; from += 8) {
      List<Chunk> chunks = new ArrayList<>();
      for (int i = from; i < Math.min(n, from + 8); i++) {
        chunks.add(new Chunk(seqs.get(i), prompts[i]));
      }
      d.lastLogits(chunks);
    }
    List<Chunk> step = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      step.add(new Chunk(seqs.get(i), new int[] {next[i]}));
    }
    return d.lastLogits(step);
  }

  private static double rel(float[][] a, float[][] ref) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < ref.length; i++) {
      for (int j = 0; j < ref[i].length; j++) {
        diff += (double) (a[i][j] - ref[i][j]) * (a[i][j] - ref[i][j]);
        norm += (double) ref[i][j] * ref[i][j];
      }
    }
    return Math.sqrt(diff / norm);
  }

  /**
   * A near tie: the token {@code pick} chooses is, in the {@code ref} logits, within 3x the reference pair's largest
   * difference in that row (max |a - b| of two accepted paths) of ref's best, so the accepted paths' own spread could
   * choose either.
   */
  static boolean nearTie(float[] pick, float[] ref, float[] a, float[] b) {
    double spread = 0;
    for (int j = 0; j < ref.length; j++) {
      spread = Math.max(spread, Math.abs(a[j] - b[j]));
    }
    return ref[argmax(ref)] - ref[argmax(pick)] <= 3 * spread;
  }

  private static int argmax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      best = x[i] > x[best] ? i : best;
    }
    return best;
  }
}

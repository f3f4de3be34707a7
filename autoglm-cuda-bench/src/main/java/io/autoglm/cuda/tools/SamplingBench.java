package io.autoglm.cuda.tools;

import io.autoglm.AutoGLM;
import io.autoglm.testkit.Conformance;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.ResponseFormat;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.GenerationResult;
import io.autoglm.backend.RowProcessing;
import io.autoglm.backend.SamplingRow;
import io.autoglm.model.ModelConfig;
import io.autoglm.testkit.ReferenceSet;
import io.autoglm.sample.LogitProcessing;
import io.autoglm.sample.Sampler;
import io.autoglm.sample.TokenCounts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The device side of sampling (issue 20) and of grammar masks (issue 19) on the GPU:
 *
 * <pre>
 * SamplingBench logprobs FIXTURES_MODELS_DIR   logprobs and penalties on CUDA vs the fp32 CPU references
 * SamplingBench schemas TOKENIZER_DIR WORK     100 constrained requests per schema, streamed and not, all valid
 * SamplingBench speed TOKENIZER_DIR WORK       batch-64 decode tok/s with/without logprobs, penalties, a mask
 * SamplingBench all FIXTURES TOKENIZER WORK    the three in turn
 * </pre>
 *
 * Each check prints one PASS/FAIL line; the exit status is 0 only when all pass. {@code -Dbench.backend=cpu} runs
 * the same checks on the CPU backend (DJL on the classpath), to try the tool without a GPU.
 */
public final class SamplingBench {
  static final String BACKEND = System.getProperty("bench.backend", "cuda");
  private SamplingBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: SamplingBench logprobs FIXTURES | schemas TOKENIZER WORK | speed TOKENIZER WORK | "
          + "all FIXTURES TOKENIZER WORK");
      System.exit(2);
    }
    boolean ok = switch (args[0]) {
      case "logprobs" -> logprobs(Path.of(args[1]));
      case "schemas" -> SamplingSchemaCheck.run(Path.of(args[1]), Path.of(args[2]));
      case "speed" -> speed(Path.of(args[1]), Path.of(args[2]));
      case "all" -> logprobs(Path.of(args[1])) & SamplingSchemaCheck.run(Path.of(args[2]), Path.of(args[3]))
          & speed(Path.of(args[2]), Path.of(args[3]));
      default -> throw new IllegalArgumentException("unknown subcommand " + args[0]);
    };
    System.out.println("SamplingBench: " + (ok ? "PASS" : "FAIL"));
    System.exit(ok ? 0 : 1);
  }

  static List<Integer> ids(int[] a) {
    return Arrays.stream(a).boxed().toList();
  }

  // ---------------------------------------------------------------- (a) logprobs and penalties vs CPU

  /**
   * Per dense fixture: greedy 24 tokens with 20 top logprobs on CUDA. Checked (1) against log-softmax of the
   * transformers fp32 logits (CPU) at the steps before the first near-tie, within twice the conformance logit bound
   * (a log-softmax moves at most 2·max|Δlogit|); (2) against the host rule ({@link LogitProcessing}) on the CUDA's
   * own teacher-forced logits, within the same bound; (3) the invariants: the greedy id is the top-1, values sorted
   * and ≤ 0. Then penalties and logit bias: the CUDA greedy pick equals the argmax of the host rule applied to the
   * CUDA's teacher-forced logits wherever the margin is above the bound.
   */
  static boolean logprobs(Path models) {
    boolean ok = true;
    for (String name : CudaBench.fixtures(models)) {
      Path dir = models.resolve(name);
      if (ModelConfig.load(dir).moe().isPresent()) {
        continue; // dense fixtures cover the sampling path; MoE routing has its own conformance
      }
      ReferenceSet ref = ReferenceSet.load(dir.resolve("reference.safetensors"));
      double maxRef = 0;
      for (ReferenceSet.Prompt p : ref.prompts()) {
        for (float[] r : p.greedyLogits()) {
          for (float v : r) {
            maxRef = Math.max(maxRef, Math.abs(v));
          }
        }
      }
      double tol = (ModelConfig.load(dir).dtype().equals("bfloat16") ? 1e-2 : 2e-2) * maxRef;
      try (AutoGLM glm = AutoGLM.builder().modelPath(dir).backend(BACKEND).kvBlocks(256).build()) {
        ok &= logprobsFixture(glm, name, ref, tol);
        ok &= penaltiesFixture(glm, name, ref, tol);
      } catch (RuntimeException e) {
        System.out.println(name + ": FAILED with " + e);
        e.printStackTrace(System.out);
        ok = false;
      }
    }
    return ok;
  }

  private static boolean logprobsFixture(AutoGLM glm, String name, ReferenceSet ref, double tol) {
    double vsRef = 0;
    double vsHost = 0;
    int steps = 0;
    int bad = 0;
    for (ReferenceSet.Prompt p : ref.prompts()) {
      SamplingParams params = SamplingParams.builder().maxNewTokens(24).ignoreEos(true).logprobs(20).build();
      GenerationResult r = glm.generate(ids(p.inputIds()), params);
      List<float[]> own = Conformance.teacherForcedLogits(glm, concat(p.inputIds(), r.tokenIds()));
      boolean onReference = true;
      for (int s = 0; s < r.tokenIds().size(); s++) {
        GenerationResult.TokenLogprobs lp = r.logprobs().get(s);
        bad += invariantsBroken(lp, r.tokenIds().get(s));
        onReference &= s < p.greedy().length && r.tokenIds().get(s) == p.greedy()[s] && p.margin(s) > 2 * tol;
        if (onReference) {
          vsRef = Math.max(vsRef, maxDiff(lp, p.greedyLogits()[s]));
        }
        vsHost = Math.max(vsHost, maxDiff(lp, own.get(p.inputIds().length - 1 + s)));
        steps++;
      }
    }
    boolean pass = vsRef <= 2 * tol && vsHost <= 2 * tol && bad == 0;
    System.out.printf(Locale.ROOT, "logprobs %s: %d steps, max |Δlogprob| vs CPU fp32 reference %.3g, vs host rule on "
        + "the device's logits %.3g (bound %.3g); invariant violations %d: %s%n", name, steps, vsRef, vsHost,
        2 * tol, bad, pass ? "PASS" : "FAIL");
    return pass;
  }

  /** The greedy id is the top-1; values sorted, ≤ 0; the chosen logprob equals its top-1 entry. */
  private static int invariantsBroken(GenerationResult.TokenLogprobs lp, int token) {
    int bad = lp.top().get(0).tokenId() == token && lp.top().get(0).logprob() == lp.logprob() ? 0 : 1;
    for (int k = 0; k < lp.top().size(); k++) {
      float v = lp.top().get(k).logprob();
      if (!(v <= 0) || (k > 0 && v > lp.top().get(k - 1).logprob())) {
        bad++;
      }
    }
    return bad;
  }

  /** The largest |device − host| over the chosen logprob and each top entry, the host's from {@code logits}. */
  private static double maxDiff(GenerationResult.TokenLogprobs lp, float[] logits) {
    GenerationResult.TokenLogprobs host = LogitProcessing.logprobs(logits, logits.length, lp.tokenId(), lp.top().size());
    double d = Math.abs(host.logprob() - lp.logprob());
    for (int k = 0; k < lp.top().size(); k++) { // by rank: ids may swap at near-ties, values may not
      d = Math.max(d, Math.abs(host.top().get(k).logprob() - lp.top().get(k).logprob()));
    }
    return d;
  }

  private static boolean penaltiesFixture(AutoGLM glm, String name, ReferenceSet ref, double tol) {
    int checked = 0;
    int agree = 0;
    for (ReferenceSet.Prompt p : ref.prompts()) {
      int biased = 7 + p.index();
      SamplingParams params = SamplingParams.builder().maxNewTokens(20).ignoreEos(true).repetitionPenalty(1.3)
          .frequencyPenalty(0.5).presencePenalty(0.4).logitBias(Map.of(biased, 2f)).build();
      List<Integer> out = glm.generate(ids(p.inputIds()), params).tokenIds();
      List<float[]> logits = Conformance.teacherForcedLogits(glm, concat(p.inputIds(), out));
      TokenCounts counts = TokenCounts.of(p.inputIds(), true);
      for (int s = 0; s < out.size(); s++) {
        RowProcessing rp = new RowProcessing(0.4f, 0.5f, 1.3f, 0, new int[] {biased}, new float[] {2f}, counts, -1);
        float[] row = logits.get(p.inputIds().length - 1 + s);
        float[] x = LogitProcessing.adjusted(row, row.length, new SamplingRow(0, 0, 1, 0, s, Integer.MAX_VALUE,
            Optional.empty(), Optional.of(rp)));
        int best = Sampler.argmax(x);
        float second = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < x.length; i++) {
          second = i == best ? second : Math.max(second, x[i]);
        }
        if (x[best] - second > 2 * tol) {
          checked++;
          agree += best == out.get(s) ? 1 : 0;
        }
        counts.addGenerated(out.get(s));
      }
    }
    boolean pass = checked > 0 && agree == checked;
    System.out.printf(Locale.ROOT, "penalties %s (repetition 1.3, frequency 0.5, presence 0.4, bias +2): "
        + BACKEND + " greedy = argmax of the host rule on the device's logits at %d/%d steps with a margin above "
        + "%.3g: %s%n", name, agree, checked, 2 * tol, pass ? "PASS" : "FAIL");
    return pass;
  }

  static int[] concat(int[] a, List<Integer> b) {
    int[] out = Arrays.copyOf(a, a.length + b.size());
    for (int i = 0; i < b.size(); i++) {
      out[a.length + i] = b.get(i);
    }
    return out;
  }

  // ---------------------------------------------------------------- (c) speed at batch 64

  /** What one throughput run asks of every request (and of the first, when it alone is constrained). */
  private record Variant(String name, SamplingParams.Builder all, Optional<ResponseFormat> firstFormat) {}

  /**
   * Batch-64 decode on glm-4-9b-chat shapes (random bf16 weights, 128-token prompts, 128 new tokens): tok/s of the
   * plain path, then with logprobs (top 0 and 20), all three penalties, a logit bias, and one grammar-constrained
   * row among 63 free ones. Decode tok/s = tokens after the first / (t(128 + 1) − t(1)), as EngineBench measures.
   */
  static boolean speed(Path tokenizer, Path work) throws Exception {
    Path dir = Path.of(System.getProperty("bench.speedModel", work.resolve("glm-4-9b-chat-random").toString()));
    if (!Files.exists(dir.resolve("config.json"))) {
      long t0 = System.nanoTime();
      FastRandomCheckpoint.write(dir);
      System.out.printf(Locale.ROOT, "wrote %s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
    }
    // at least 40 strings: the constrained row runs the whole 129 tokens instead of closing its array early
    String schema = "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":12},\"minItems\":40,"
        + "\"maxItems\":200}";
    List<Variant> variants = List.of(
        new Variant("plain", base(), Optional.empty()),
        new Variant("logprobs (top 0)", base().logprobs(0), Optional.empty()),
        new Variant("logprobs (top 20)", base().logprobs(20), Optional.empty()),
        new Variant("presence+frequency+repetition penalties", base().presencePenalty(0.5).frequencyPenalty(0.5)
            .repetitionPenalty(1.1), Optional.empty()),
        new Variant("logit_bias (4 ids)", base().logitBias(Map.of(100, 1f, 200, -1f, 300, 2f, 400, -2f)),
            Optional.empty()),
        new Variant("one JSON-schema row + 63 free", base(), Optional.of(ResponseFormat.jsonSchema(schema))));
    try (AutoGLM glm = AutoGLM.builder().modelPath(dir).tokenizerPath(tokenizer).backend(BACKEND).kvBlocks(4096)
        .maxRunningSequences(64).maxBatchTokens(1024).prefixCaching(false).build()) {
      SplittableRandom r = new SplittableRandom(5);
      double plain = 0;
      for (int round = 0; round < 2; round++) { // the first round warms up graphs and lazy allocations
        for (Variant v : variants) {
          double tps = decodeTokPerSec(glm, r, v, 64, 128, 128);
          plain = v.name().equals("plain") ? tps : plain;
          if (round == 1) {
            System.out.printf(Locale.ROOT, "speed n=64 %-42s %8.1f tok/s (%+.1f%% vs plain)%n", v.name(), tps,
                100 * (tps / plain - 1));
          }
        }
      }
    }
    return true;
  }

  private static SamplingParams.Builder base() {
    return SamplingParams.builder().temperature(1.0).topP(0.95).seed(1).ignoreEos(true);
  }

  private static double decodeTokPerSec(AutoGLM glm, SplittableRandom r, Variant v, int n, int prompt, int tokens) {
    run(glm, r, v, n, prompt, 1);
    long t0 = System.nanoTime();
    run(glm, r, v, n, prompt, 1);
    double t1 = (System.nanoTime() - t0) / 1e9;
    t0 = System.nanoTime();
    long made = run(glm, r, v, n, prompt, tokens + 1);
    double tn = (System.nanoTime() - t0) / 1e9;
    return (made - n) / (tn - t1);
  }

  /** n concurrent requests; returns the tokens they made. */
  private static long run(AutoGLM glm, SplittableRandom r, Variant v, int n, int prompt, int tokens) {
    int vocab = glm.tokenizer().vocabSize();
    SamplingParams params = v.all().maxNewTokens(tokens).build();
    List<GenerationHandle> hs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      SamplingParams.Builder b = params.toBuilder().seed(i); // a copy: the variant's builder stays as it is
      if (i == 0 && v.firstFormat().isPresent()) {
        hs.add(glm.submit(TextRequest.completion("JSON please " + r.nextInt(1000), b.ignoreEos(false)
            .responseFormat(v.firstFormat().get()).build())));
      } else {
        hs.add(glm.submit(ids(CudaBench.randomTokens(r, prompt, vocab)), b.build()));
      }
    }
    long made = 0;
    for (GenerationHandle h : hs) {
      made += h.result().join().tokenIds().size();
    }
    return made;
  }
}

package io.autoglm.cuda.tools;

import io.autoglm.AutoGLM;
import io.autoglm.GenerationHandle;
import io.autoglm.GenerationResult;
import io.autoglm.SamplingParams;
import io.autoglm.TextRequest;
import io.autoglm.internal.EngineAccess;
import io.autoglm.sched.StepClock;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code EngineBench overhead WORK_DIR [TOKENIZER_DIR]}: what the engine costs over the direct backend path, and
 * end-to-end serving, at glm-4-9b-chat shapes (the {@code engine} stage's random checkpoint). For each delivery mode
 * ({@code -Doverhead.delivery=thread,inline}: tokens delivered on the engine's delivery thread, overlapping the next
 * forward pass, or on the engine thread between steps as before) and token budget
 * ({@code -Doverhead.maxBatchTokens=2048}), one loaded model runs:
 * <ul>
 *   <li><b>steady decode</b> at each batch of {@code -Doverhead.batches=1,64,256}: n requests of a
 *       {@code -Doverhead.steadyPrompt=96}-token prompt and 128 new tokens, after {@code -Doverhead.warmupSeconds=6}
 *       of warm-up rounds at that batch (the engine's host code JIT-compiled), timed only over the steps where all n
 *       decode together (after the last first token, up to the first finish), from the engine's own step clock,
 *       so it compares with {@code CudaBench bench}'s batch lines (fixed batch, context ~163): the mean context of
 *       the window is printed;</li>
 *   <li><b>end-to-end</b>: 256 requests of 128-token prompts and 128 new tokens submitted at once, output tok/s
 *       with the prefills included (issue 24's serving target), TTFT, and the host µs per step by phase;</li>
 *   <li>with TOKENIZER_DIR, the same end-to-end load as streaming text completions with a subscriber per request
 *       (detokenization, stop-string checks and token hand-off on the delivery path, as the server's).</li>
 * </ul>
 */
final class EngineOverheadBench {
  private EngineOverheadBench() {}

  static boolean run(Path work, Path tokenizer) throws Exception {
    Path dir = EngineBench.randomCheckpoint9b(work);
    int steadyPrompt = Integer.getInteger("overhead.steadyPrompt", 96);
    for (String delivery : System.getProperty("overhead.delivery", "thread,inline").split(",")) {
      for (int budget : ints(System.getProperty("overhead.maxBatchTokens", "2048"))) {
        System.setProperty("autoglm.deliveryThread", Boolean.toString(delivery.equals("thread")));
        String label = "delivery " + delivery + ", maxBatchTokens " + budget;
        try (AutoGLM glm = builder(dir, budget).build()) {
          SplittableRandom r = new SplittableRandom(3);
          int vocab = glm.config().vocabSize();
          for (int n : ints(System.getProperty("overhead.batches", "1,64,256"))) {
            steady(glm, r, vocab, n, steadyPrompt, label);
          }
          endToEnd(glm, r, vocab, label, null);
        }
        if (tokenizer != null) {
          try (AutoGLM glm = builder(dir, budget).tokenizerPath(tokenizer).build()) {
            endToEnd(glm, new SplittableRandom(4), glm.config().vocabSize(), label, streamingPrompt(glm));
          } catch (RuntimeException e) {
            System.out.println("end-to-end streaming text (" + label + "): not run: " + e);
          }
        }
      }
    }
    System.clearProperty("autoglm.deliveryThread");
    return true;
  }

  /**
   * The engine of every measurement; {@code -Doverhead.quantization=fp8} quantizes the checkpoint at load,
   * {@code -Doverhead.kvCacheDtype=fp8} takes an FP8 KV cache (with -Dautoglm.cuda.fp8KvUnchecked=true until its
   * device check).
   */
  static AutoGLM.Builder builder(Path dir, int maxBatchTokens) {
    AutoGLM.Builder b = EngineBench.cuda(dir).kvBlocks(24_000).kvBlockSizeTokens(16).maxRunningSequences(256)
        .maxBatchTokens(maxBatchTokens).prefixCaching(false);
    String q = System.getProperty("overhead.quantization");
    String kv = System.getProperty("overhead.kvCacheDtype");
    if (kv != null && !kv.isBlank()) {
      b.kvCacheDtype(kv.trim());
    }
    return q == null || q.isBlank() ? b : b.quantization(q.trim());
  }

  static int[] ints(String list) {
    return Arrays.stream(list.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
  }

  static StepClock.Phases phases(AutoGLM glm) {
    return EngineAccess.get().enginePhases(glm);
  }

  static SamplingParams greedy(int newTokens) {
    return SamplingParams.builder().maxNewTokens(newTokens).ignoreEos(true).build();
  }

  /**
   * Decode tok/s over the steps where all n requests decode together, from the engine's step clock. First, rounds of
   * this batch run for {@code -Doverhead.warmupSeconds=6} (at least one: it captures the batch's decode graph), so
   * that the engine's host code is JIT-compiled as in a server that has run a while: the window itself is only
   * ~130 steps, and the per-step methods (schedule, update, the step's arrays, the backend's launch) run interpreted
   * or in profiling C1 code for their first few hundred calls, which costs ~10x the compiled code's time.
   */
  static void steady(AutoGLM glm, SplittableRandom r, int vocab, int n, int prompt, String label) {
    long warmupSteps = warmUp(glm, r, vocab, n, prompt);
    int newTokens = 128;
    long[] firstStep = new long[n];
    List<CompletableFuture<Void>> first = new ArrayList<>();
    List<CompletableFuture<GenerationResult>> results = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      GenerationHandle h = glm.submit(EngineBench.ids(CudaBench.randomTokens(r, prompt, vocab)), greedy(newTokens));
      int k = i;
      first.add(h.firstToken().thenRun(() -> firstStep[k] = glm.stats().steps()));
      results.add(h.result());
    }
    CompletableFuture.allOf(first.toArray(CompletableFuture[]::new)).join();
    StepClock.Phases a = phases(glm);
    CompletableFuture.anyOf(results.toArray(CompletableFuture[]::new)).join();
    StepClock.Phases w = phases(glm).minus(a);
    results.forEach(CompletableFuture::join);
    double mid = a.steps() + w.steps() / 2.0;
    double ctx = prompt + Arrays.stream(firstStep).mapToDouble(s -> mid - s + 1).average().orElse(0);
    double tokS = (double) n * w.steps() / (w.lastStepEndNanos() / 1e9);
    System.out.printf(Locale.ROOT, "steady decode n=%d (%s): %.1f tok/s (TPOT %.2f ms) over %d all-decode steps, "
        + "mean context %.0f; %s; engine thread's own work %.1f µs/step; after %d warm-up steps%n", n, label, tokS,
        w.lastStepEndNanos() / 1e6 / Math.max(1, w.steps()), w.steps(), ctx, w, w.hostMicrosPerStep(), warmupSteps);
  }

  /** Rounds of n requests of 32 new tokens for {@code overhead.warmupSeconds} (at least one); the steps they ran. */
  static long warmUp(AutoGLM glm, SplittableRandom r, int vocab, int n, int prompt) {
    double seconds = Double.parseDouble(System.getProperty("overhead.warmupSeconds", "6"));
    if (!(seconds >= 0)) {
      throw new IllegalArgumentException("overhead.warmupSeconds must be >= 0, got " + seconds);
    }
    long steps0 = glm.stats().steps();
    long end = System.nanoTime() + (long) (seconds * 1e9);
    do {
      EngineBench.run(glm, r, vocab, n, prompt, 32);
    } while (System.nanoTime() - end < 0);
    return glm.stats().steps() - steps0;
  }

  /**
   * 256 requests of 128-token prompts and 128 new tokens at once: output tok/s with the prefills included, TTFT. A
   * text prompt makes them streaming text completions, each with a subscriber.
   */
  static void endToEnd(AutoGLM glm, SplittableRandom r, int vocab, String label, String text) {
    int n = 256;
    int newTokens = 128;
    for (int round = 0; round < 2; round++) { // the first warms up the prefill shapes
      long t0 = System.nanoTime();
      StepClock.Phases p0 = phases(glm);
      long[] ttft = new long[n];
      AtomicLong chars = new AtomicLong();
      List<GenerationHandle> hs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        GenerationHandle h = text == null
            ? glm.submit(EngineBench.ids(CudaBench.randomTokens(r, 128, vocab)), greedy(newTokens))
            : glm.submit(TextRequest.completion(i + text, greedy(newTokens)));
        if (text != null) {
          h.onToken(e -> chars.addAndGet(e.text().length()));
        }
        int k = i;
        h.firstToken().thenRun(() -> ttft[k] = System.nanoTime() - t0);
        hs.add(h);
      }
      long tokens = 0;
      for (GenerationHandle h : hs) {
        tokens += h.result().join().tokenIds().size();
      }
      double s = (System.nanoTime() - t0) / 1e9;
      StepClock.Phases p = phases(glm).minus(p0);
      long[] sorted = ttft.clone();
      Arrays.sort(sorted);
      if (round == 1) {
        System.out.printf(Locale.ROOT, "end-to-end %s 256 x (128 prompt / %d new) (%s): %.1f output tok/s (%d tokens"
            + " in %.2f s); TTFT mean %.0f ms, p50 %.0f, max %.0f; %s; engine thread's own work %.1f µs/step%n",
            text == null ? "ids" : "streaming text", newTokens, label, tokens / s, tokens, s,
            Arrays.stream(ttft).average().orElse(0) / 1e6, sorted[n / 2] / 1e6, sorted[n - 1] / 1e6, p,
            p.hostMicrosPerStep());
      }
    }
  }

  /** A text of about 128 tokens (the request's index is put in front, so prompts differ). */
  static String streamingPrompt(AutoGLM glm) {
    StringBuilder b = new StringBuilder(" tells a story:");
    for (int i = 0; glm.tokenizer().encode(b.toString()).size() < 127; i++) {
      b.append(" word").append(i * 7919 % 1000);
    }
    return b.toString();
  }
}

package io.autoglm.backend.contract;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.contract.BackendContract.Loaded;
import io.autoglm.backend.contract.BackendContract.Run;
import io.autoglm.safetensors.Fp8;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

/**
 * The FP8 KV cache part of {@link BackendContract}. The reference needs no FP8 attention of its own: an FP8 cache
 * must compute exactly what the backend's default cache computes when every key and value is first rounded to E4M3
 * ({@link Fp8#round}: scale 1, ties to even, ±448 saturating), since E4M3 values are exact in fp32 and bf16.
 */
final class Fp8KvContract {
  private static final int HEADS = 4;
  private static final int KV_HEADS = 2;
  private static final int HEAD_DIM = 64;
  private static final int BLOCK = 16;
  private static final int PROMPT = 40;

  private Fp8KvContract() {}

  /**
   * A 40-token prefill over blocks 5, 2, 7 and then one decode step: the attention of the FP8-cache backend
   * ({@code rounded}) equals the default-cache backend's ({@code plain}) fed the rounded keys and values. Magnitudes
   * span E4M3's subnormals (below 2^-6) to beyond its largest value (448), so rounding, subnormals and saturation all
   * occur.
   */
  static void check(ComputeBackend rounded, ComputeBackend plain) {
    Random random = new Random(7);
    KvLayout layout = new KvLayout(1, 8, BLOCK, KV_HEADS, HEAD_DIM);
    int[] table = {5, 2, 7};
    int width = KV_HEADS * HEAD_DIM;
    float[] k = values(random, PROMPT + 1, width);
    float[] v = values(random, PROMPT + 1, width);
    float[] q = gaussian(random, (PROMPT + 1) * HEADS * HEAD_DIM);
    try (KvCache fp8 = rounded.allocateKv(layout); KvCache ref = plain.allocateKv(layout)) {
      int saturated = 0;
      int subnormal = 0;
      float[] kr = k.clone();
      float[] vr = v.clone();
      for (int i = 0; i < k.length; i++) {
        kr[i] = Fp8.round(k[i]);
        vr[i] = Fp8.round(v[i]);
        saturated += Math.abs(k[i]) > 448 ? 1 : 0;
        subnormal += Math.abs(k[i]) < 0x1p-6f && kr[i] != 0 ? 1 : 0;
      }
      assertTrue(saturated > 0 && subnormal > 0, "the inputs cover saturation and subnormals");
      for (int[] span : new int[][] {{0, PROMPT}, {PROMPT, PROMPT + 1}}) {
        float[][] got = step(rounded, fp8, table, span, k, v, q);
        float[][] want = step(plain, ref, table, span, kr, vr, q);
        double rel = Reference.relativeError(got, 0, want);
        assertTrue(rel <= 1e-6, String.format("%s: attention over an FP8 cache vs over rounded keys and values, "
            + "positions %d..%d: ‖Δ‖/‖ref‖ %.3g", rounded.name(), span[0], span[1] - 1, rel));
      }
    }
  }

  /** One step of positions [span[0], span[1]): writes their K and V, returns the attention of their queries. */
  private static float[][] step(ComputeBackend backend, KvCache kv, int[] table, int[] span, float[] k, float[] v,
      float[] q) {
    int n = span[1] - span[0];
    int width = KV_HEADS * HEAD_DIM;
    int[] ids = new int[n];
    int[] pos = new int[n];
    int[] slots = new int[n];
    for (int i = 0; i < n; i++) {
      pos[i] = span[0] + i;
      slots[i] = table[pos[i] / BLOCK] * BLOCK + pos[i] % BLOCK;
    }
    StepBatch batch = new StepBatch(ids, pos, slots, List.of(new StepBatch.Sequence(0, n, span[1], table)));
    try (ForwardStep s = backend.begin(batch, kv)) {
      s.writeKv(0, s.fromHost(rows(k, span, width), n, width), s.fromHost(rows(v, span, width), n, width));
      int qWidth = HEADS * HEAD_DIM;
      return s.toHost(s.attention(0, s.fromHost(rows(q, span, qWidth), n, qWidth), HEADS, 0.125f));
    }
  }

  private static float[] rows(float[] x, int[] span, int width) {
    return java.util.Arrays.copyOfRange(x, span[0] * width, span[1] * width);
  }

  /** Gaussian values, each token's scaled by 2^u with u uniform in [-12, 10): |x| from ~1e-4 past 448. */
  private static float[] values(Random random, int tokens, int width) {
    float[] x = gaussian(random, tokens * width);
    for (int t = 0; t < tokens; t++) {
      float scale = (float) Math.scalb(1.0, random.nextInt(22) - 12);
      for (int i = 0; i < width; i++) {
        x[t * width + i] *= scale;
      }
    }
    return x;
  }

  /**
   * Gaussian values, each rounded to bf16 (nearest even): a bf16 backend's {@code fromHost} then holds them exactly,
   * so it rounds to E4M3 the very values {@link Fp8#round} rounds (rounding to bf16 first could move a value onto an
   * E4M3 midpoint, which ties to even where the fp32 value would not).
   */
  private static float[] gaussian(Random random, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      int bits = Float.floatToRawIntBits((float) random.nextGaussian());
      x[i] = Float.intBitsToFloat((bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000);
    }
    return x;
  }

  /**
   * glm4-tiny's one-step prefill logits with an FP8 KV cache against transformers' fp32 reference: the error the
   * cache adds, printed beside the default cache's, and bounded loosely (E4M3 rounds each key and value by up to
   * 2^-4 of itself; the exact check is {@link #check}).
   */
  static void nearReference(BiFunction<String, Map<String, String>, Loaded> load, String backend) {
    Reference ref;
    List<float[][]> fp8;
    List<float[][]> plain;
    try (Loaded m = load.apply("glm4-tiny", Map.of(BackendOptions.KV_CACHE_DTYPE, "fp8"))) {
      ref = m.reference();
      fp8 = prefills(m);
    }
    try (Loaded m = load.apply("glm4-tiny", Map.of())) {
      plain = prefills(m);
    }
    double fp8Error = 0;
    double plainError = 0;
    double fp8VsPlain = 0;
    int agree = 0;
    int rows = 0;
    for (Reference.Prompt p : ref.prompts()) {
      float[][] got = fp8.get(p.index());
      fp8Error = Math.max(fp8Error, Reference.relativeError(got, 0, p.logits()));
      plainError = Math.max(plainError, Reference.relativeError(plain.get(p.index()), 0, p.logits()));
      fp8VsPlain = Math.max(fp8VsPlain, Reference.relativeError(got, 0, plain.get(p.index())));
      for (int r = 0; r < got.length; r++) {
        agree += argmax(got[r]) == argmax(p.logits()[r]) ? 1 : 0;
      }
      rows += got.length;
    }
    System.out.printf("%s glm4-tiny one-step prefill vs transformers fp32, largest ‖Δ‖/‖ref‖ of a prompt: %.3g with "
        + "an FP8 KV cache, %.3g with the default cache (%.3g between the two); top-1 equal to the reference at %d of "
        + "%d positions with the FP8 cache%n", backend, fp8Error, plainError, fp8VsPlain, agree, rows);
    assertTrue(fp8VsPlain > 1e-6, "FP8 rounding of the cache must show: " + fp8VsPlain);
    // A sanity bound only (measured on the DJL cpu backend: 0.054, top-1 82 of 92): each key and value of this
    // 3-layer random model carries up to 2^-4 relative rounding error, more for values below E4M3's smallest normal
    // (2^-6); the exact check is check().
    assertTrue(fp8Error < 0.15, "relative logit error " + fp8Error + " is far beyond E4M3's rounding of K and V");
  }

  /**
   * glm4-tiny's longest prompt over an FP8 cache: its last 3 tokens decoded one step each after a prefill of the rest
   * against one prefill step of it all. The decode steps take the backend's small-batch paths (CUDA: the QKV GEMV
   * writing the cache in its epilogue, the tensor-core decode attention), the prefill its large-batch ones, so each
   * side rounds its own keys and values: the bound is the layouts' plus 0.02, since a key that lands on the other side
   * of an E4M3 rounding boundary moves by up to 2^-4 of itself (a broken write or read is off by far more).
   */
  static void decodeStepsMatchOnePrefill(BiFunction<String, Map<String, String>, Loaded> load, double layoutTolerance) {
    try (Loaded m = load.apply("glm4-tiny", Map.of(BackendOptions.KV_CACHE_DTYPE, "fp8"));
         KvCache kv = m.kv(BLOCK, 256)) {
      int[] ids = BackendContract.longest(m.reference()).inputIds();
      float[][] one = m.logits(kv, List.of(new Run(BackendContract.blocks(0, ids.length, BLOCK, false))),
          List.of(ids));
      Run stepwise = new Run(BackendContract.blocks(100, ids.length, BLOCK, true));
      int n = ids.length - 3;
      m.logits(kv, List.of(stepwise), List.of(java.util.Arrays.copyOf(ids, n)));
      double worst = 0;
      for (int i = n; i < ids.length; i++) {
        float[][] step = m.logits(kv, List.of(stepwise), List.of(new int[] {ids[i]}));
        worst = Math.max(worst, Reference.relativeError(step, 0, new float[][] {one[i]}));
      }
      System.out.printf("%s glm4-tiny over an FP8 KV cache, 3 decode steps vs one prefill step: largest ‖Δ‖/‖ref‖ "
          + "%.3g%n", m.backend().name(), worst);
      assertTrue(worst <= layoutTolerance + 0.02, String.format("FP8 cache decode steps vs one prefill step: %.3g",
          worst));
    }
  }

  /** Each reference prompt's logits from one prefill step, in blocks of their own. */
  private static List<float[][]> prefills(Loaded m) {
    List<float[][]> out = new java.util.ArrayList<>();
    try (KvCache kv = m.kv(BLOCK, 256)) {
      int block = 0;
      for (Reference.Prompt p : m.reference().prompts()) {
        Run run = new Run(BackendContract.blocks(block, p.inputIds().length, BLOCK, false));
        block += run.blockTable().length;
        out.add(m.logits(kv, List.of(run), List.of(p.inputIds())));
      }
    }
    return out;
  }

  private static int argmax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      best = x[i] > x[best] ? i : best;
    }
    return best;
  }
}

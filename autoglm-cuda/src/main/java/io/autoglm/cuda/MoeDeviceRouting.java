package io.autoglm.cuda;

import io.autoglm.backend.MoeRouter;
import java.nio.ByteBuffer;
import java.util.function.LongUnaryOperator;

/**
 * MoE routing on the device (moe_route.cu): router logits, {@link MoeRouter}'s selection and the plan of the pairs
 * sorted by expert, three kernels and no host wait, so a MoE decode step can be captured as a CUDA graph.
 *
 * <p>What it matches: for every token the set of experts {@link MoeRouter#route} chooses on the same logits, exact
 * ties included (a token whose k-th and (k+1)-th biased scores are equal, or its topk_group-th and next group scores,
 * is routed by a one-thread port of {@code TorchTopK} on the device, in torch's order); otherwise the chosen experts
 * are listed best first, so the weights' sum and the combine add the same terms in another order than the host's
 * (fp32 rounding). The plan equals {@link CudaMoe#sorted}'s for the same choices. Buffers are sized for the worst
 * case (rows·topK pairs, min(E, rows·topK) groups), so the grouped GEMV is launched over the worst-case group count
 * and the groups past the step's non-empty experts exit at once.
 *
 * <p>When it applies ({@link #applies}): {@code cuda.moeDeviceRouting} (default true), a step of at most
 * {@link #MAX_TOKENS} physical rows (larger steps take the host plan, whose per-expert cuBLAS GEMMs suit long runs of
 * rows), and a router and layer within the kernels' limits ({@link #supports}).
 */
final class MoeDeviceRouting {
  /**
   * Steps of up to this many physical rows route on the device: the largest decode bucket of 256 sequences. Every
   * run of rows then goes through the grouped GEMV (a run is at most one row per token).
   */
  static final int MAX_TOKENS = 256;

  private static volatile MoeRouter.Observer observer;

  private MoeDeviceRouting() {}

  /** moe_route.cu's limits, read once: {most experts, largest top-k, most groups}. */
  private static final class Limits {
    static final int[] VALUES = CudaNative.moeRouteLimits();
  }

  /**
   * Installs (null removes) an observer of every token routed on the device by any CUDA backend of this JVM, as
   * {@link MoeRouter#observe} sees the host's: each MoE layer then waits for the host (diagnostics only), and decode
   * steps are not captured while it is installed.
   */
  static void observe(MoeRouter.Observer o) {
    observer = o;
  }

  static MoeRouter.Observer observer() {
    return observer;
  }

  /** The layer's correction bias on the device: (E) fp32 right after the router's (E, hidden). */
  static long bias(CudaMoe.Weights w) {
    return w.router() + 4L * w.numExperts() * w.hidden();
  }

  /** Whether the kernels take this router and layer: experts, top-k and groups within their limits, widths of 8. */
  static boolean supports(CudaMoe.Weights w, MoeRouter r) {
    return r.numExperts() == w.numExperts() && supports(r, w.hidden(), w.intermediateSize());
  }

  /**
   * Whether the kernels take {@code r} on a layer of {@code hidden} features and experts of {@code inter}: at most
   * moe_route.cu's experts, top-k and groups ({@code CudaNative.moeRouteLimits}), widths that the grouped GEMV takes
   * (multiples of 8).
   */
  static boolean supports(MoeRouter r, int hidden, int inter) {
    int[] l = Limits.VALUES;
    return r.numExperts() <= l[0] && r.topK() <= l[1] && r.numGroups() <= l[2] && hidden % 8 == 0 && inter % 8 == 0;
  }

  /** Whether a step of {@code physRows} rows routes this layer on the device. */
  static boolean applies(CudaSettings settings, int physRows, CudaMoe.Weights w, MoeRouter r) {
    return applies(settings, physRows) && supports(w, r);
  }

  /** Whether a step of {@code physRows} rows routes on the device, for a router and layer it {@link #supports}. */
  static boolean applies(CudaSettings settings, int physRows) {
    return settings.moeDeviceRouting() && physRows <= MAX_TOKENS;
  }

  /**
   * The device buffers of one routing of {@code rows} rows: experts and weights (rows·k, token-major), tokenOfRow and
   * rowOfPair (rows·k), expertIds (maxGroups) and offsets (maxGroups + 1).
   */
  record Buffers(long experts, long weights, long tokenOfRow, long rowOfPair, long expertIds, long offsets,
      int maxGroups) {
    static Buffers allocate(LongUnaryOperator alloc, int rows, MoeRouter r) {
      long pairs = (long) rows * r.topK();
      int maxGroups = (int) Math.min(r.numExperts(), pairs);
      return new Buffers(alloc.applyAsLong(4 * pairs), alloc.applyAsLong(4 * pairs), alloc.applyAsLong(4 * pairs),
          alloc.applyAsLong(4 * pairs), alloc.applyAsLong(4L * maxGroups), alloc.applyAsLong(4L * (maxGroups + 1)),
          maxGroups);
    }
  }

  /**
   * The selection and the plan of {@code rows} rows of fp32 logits (rows, E) into {@code b}; {@code biasedOut}
   * (rows, E) fp32 and {@code meta} {groups, largest group} int32 when not 0.
   */
  static void launch(long ctx, long logits, long bias, int rows, MoeRouter r, Buffers b, long biasedOut, long meta) {
    if (!CudaNative.moeRoute(ctx, logits, bias, rows, r.numExperts(), r.topK(), r.numGroups(), r.topKGroups(),
        r.normalizeTopK(), (float) r.scalingFactor(), b.experts(), b.weights(), biasedOut)) {
      throw new IllegalArgumentException(String.format("device routing does not take %s (limits: experts, top-k, "
          + "groups at most %s)", r, java.util.Arrays.toString(Limits.VALUES)));
    }
    CudaNative.moePlan(ctx, b.experts(), rows * r.topK(), r.topK(), r.numExperts(), b.maxGroups(), b.tokenOfRow(),
        b.rowOfPair(), b.expertIds(), b.offsets(), meta);
  }

  /** The step's routing of {@code a} on the device: every physical row (a graph step's padding too). */
  static CudaMoe.Routing route(CudaForwardStep s, CudaActivation a, CudaMoe.Weights w, MoeRouter router) {
    int rows = a.physRows();
    int e = w.numExperts();
    long logits = s.memory.allocate(4L * rows * e);
    Buffers b = Buffers.allocate(s.memory::allocate, rows, router);
    MoeRouter.Observer o = observer;
    long biased = o != null ? s.memory.allocate(4L * rows * e) : 0;
    s.recorder.track(StepOp.MOE_ROUTE, logits, a.ptr());
    if (s.recorder.live()) {
      CudaNative.routerLogits(s.ctx, logits, a.ptr(), a.ld(), w.router(), rows, w.hidden(), e);
      launch(s.ctx, logits, bias(w), rows, router, b, biased, 0);
      if (o != null) {
        report(s, o, logits, biased, b, a.rows(), e, router.topK());
      }
    } else if (s.recorder.skipped()) { // timing diagnostic: a valid, empty plan (token 0, no groups), not garbage
      long pairs = 4L * rows * router.topK();
      for (long p : new long[] {b.tokenOfRow(), b.rowOfPair(), b.weights()}) {
        CudaNative.memsetAsync(s.ctx, p, 0, pairs);
      }
      CudaNative.memsetAsync(s.ctx, b.expertIds(), 0, 4L * b.maxGroups());
      CudaNative.memsetAsync(s.ctx, b.offsets(), 0, 4L * (b.maxGroups() + 1));
    }
    return new CudaMoe.Routing(a.rows(), router.topK(), rows, b.tokenOfRow(), b.rowOfPair(), b.weights(),
        b.expertIds(), b.offsets(), b.maxGroups(), null, null, -1);
  }

  /** Reads the step's device routing back and shows the observer each real token, in token order. */
  private static void report(CudaForwardStep s, MoeRouter.Observer o, long logits, long biased, Buffers b, int tokens,
      int e, int k) {
    if (s.recorder.inGraph()) {
      throw new IllegalStateException("a device-routing observer cannot read back inside a CUDA graph");
    }
    s.recorder.flushProfile();
    long scores = 4L * tokens * e;
    long pairs = 4L * tokens * k;
    ByteBuffer host = s.backend.readback(2 * scores + 2 * pairs);
    long at = CudaNative.address(host);
    CudaNative.copyAsync(s.ctx, at, logits, scores);
    CudaNative.copyAsync(s.ctx, at + scores, biased, scores);
    CudaNative.copyAsync(s.ctx, at + 2 * scores, b.experts(), pairs);
    CudaNative.copyAsync(s.ctx, at + 2 * scores + pairs, b.weights(), pairs);
    CudaNative.synchronize(s.ctx);
    for (int t = 0; t < tokens; t++) {
      float[] l = new float[e];
      float[] bi = new float[e];
      int[] x = new int[k];
      float[] wt = new float[k];
      host.position((int) (4L * t * e)).asFloatBuffer().get(l);
      host.position((int) (scores + 4L * t * e)).asFloatBuffer().get(bi);
      host.position((int) (2 * scores + 4L * t * k)).asIntBuffer().get(x);
      host.position((int) (2 * scores + pairs + 4L * t * k)).asFloatBuffer().get(wt);
      o.routed(l, bi, new MoeRouter.Choice(x, wt));
    }
    host.clear();
  }
}

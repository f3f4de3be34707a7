package io.autoglm.cuda;

import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.Tensor;
import java.nio.ByteBuffer;

/**
 * The MoE ops of a step: routing (on the device by {@link MoeDeviceRouting} where it applies, else router logits on the
 * device with the selection on the host, which a CUDA graph cannot hold), then gather by expert, grouped GEMMs and the
 * weighted combine ({@link CudaMoe} holds the plan).
 */
final class StepMoe {
  private StepMoe() {}

  /**
   * MoeRouter's selection of every token's experts: on the device when {@link MoeDeviceRouting#applies}, else on the
   * host from the device's fp32 router logits (one wait per layer).
   */
  static ExpertRouting route(CudaForwardStep s, CudaActivation a, MoeWeights weights, MoeRouter router) {
    CudaMoe.Weights w = moeWeights(weights);
    if (router.numExperts() != w.numExperts() || a.cols() != w.hidden()) {
      throw new IllegalArgumentException(String.format("router expects %d experts, layer weights hold %d "
          + "(hidden %d, input %d)", router.numExperts(), w.numExperts(), w.hidden(), a.cols()));
    }
    if (MoeDeviceRouting.applies(s.backend.settings(), a.physRows(), w, router)) {
      return MoeDeviceRouting.route(s, a, w, router);
    }
    if (!MoeDeviceRouting.supports(w, router)) {
      s.backend.moeRoutedOnHost(); // no graphs for this model from now on
    }
    if (s.recorder.inGraph()) {
      throw new IllegalStateException(String.format("MoE routing on the host cannot run inside a CUDA graph (%d "
          + "rows, %s; cuda.moeDeviceRouting %s)", a.physRows(), router, s.backend.settings().moeDeviceRouting()));
    }
    int t = a.rows();
    int e = w.numExperts();
    long logits = s.memory.allocate(4L * t * e);
    s.recorder.flushProfile();
    CudaNative.routerLogits(s.ctx, logits, a.ptr(), a.ld(), w.router(), t, w.hidden(), e);
    ByteBuffer host = s.backend.readback(4L * t * e);
    CudaNative.copyAsync(s.ctx, CudaNative.address(host), logits, 4L * t * e);
    CudaNative.synchronize(s.ctx);
    float[] l = new float[t * e];
    host.asFloatBuffer().get(l);
    CudaMoe.Plan p = CudaMoe.plan(l, t, w, router);
    return new CudaMoe.Routing(t, router.topK(), t, s.upload(p.tokenOfRow(), p.tokenOfRow().length, 0),
        s.upload(p.rowOfPair(), p.rowOfPair().length, 0), s.uploadFloats(p.pairWeight()),
        s.upload(p.expertIds(), p.expertIds().length, 0), s.upload(p.offsets(), p.offsets().length, 0),
        p.expertIds().length, p.expertIds(), p.offsets(), p.maxRows());
  }

  /** Gather rows by expert, grouped [gate | up] GEMM, SiLU·mul, grouped down GEMM, weighted sum per token. */
  static Tensor moe(CudaForwardStep s, CudaActivation a, MoeWeights weights, ExpertRouting routing) {
    CudaMoe.Weights w = moeWeights(weights);
    if (!(routing instanceof CudaMoe.Routing r) || r.numTokens() != a.rows() || r.rows() != a.physRows()) {
      throw new IllegalArgumentException("moe needs the routing of this step's " + a.rows() + " tokens ("
          + a.physRows() + " rows), got " + routing);
    }
    int pairs = r.rows() * r.topK();
    int h = w.hidden();
    int inter = w.intermediateSize();
    long xs = s.memory.allocate(2L * pairs * h);
    long gu = s.memory.allocate(2L * pairs * 2 * inter);
    long mid = s.memory.allocate(2L * pairs * inter);
    long d = s.memory.allocate(2L * pairs * h);
    CudaActivation out = s.activation(a.rows(), h, false);
    s.recorder.track(StepOp.MOE, out.ptr(), a.ptr());
    if (s.recorder.live()) {
      CudaNative.gather(s.ctx, xs, a.ptr(), a.ld(), r.tokenOfRow(), pairs, h, 2);
      CudaMoe.Fp8Experts f8 = w.fp8();
      grouped(s, gu, xs, w.gateUp(), f8 == null ? null : f8.gateUp(), f8 == null ? 0 : f8.gateUpStride(), r, h,
          2 * inter);
      CudaNative.siluMul(s.ctx, mid, gu, 2 * inter, pairs, inter);
      grouped(s, d, mid, w.down(), f8 == null ? null : f8.down(), f8 == null ? 0 : f8.downStride(), r, inter, h);
      CudaNative.moeCombine(s.ctx, out.ptr(), out.ld(), d, r.rowOfPair(), r.pairWeight(), r.rows(), r.topK(), h);
    }
    return out;
  }

  /**
   * y (P, out) = x (P, in) · W_eᵀ per run of rows: one grouped kernel for small runs (every run when routed on the
   * device, over the worst-case group count), else cuBLAS per expert. f8: the experts' scales (expert e's at
   * {@code stride} floats per expert) when they are FP8, else null.
   */
  private static void grouped(CudaForwardStep s, long y, long x, long stacked, CudaWeight.Fp8 f8, long stride,
      CudaMoe.Routing r, int in, int out) {
    if ((r.onDevice() || r.maxGroupRows() <= s.backend.moeGroupedMaxRows()) && (f8 == null
        ? CudaNative.groupedGemv(s.ctx, y, x, stacked, r.expertIds(), r.offsets(), r.groups(), in, out)
        : CudaNative.groupedGemvFp8(s.ctx, y, x, stacked, f8.scales(), stride, f8.sld(), f8.rowShift(),
            f8.colShift(), r.expertIds(), r.offsets(), r.groups(), in, out))) {
      return;
    }
    if (r.onDevice()) {
      throw new IllegalStateException(String.format("the grouped GEMV declined in %d, out %d (in must be a multiple "
          + "of 8, rows 16-byte aligned) for a device-routed step", in, out));
    }
    long bytes = f8 == null ? 2 : 1;
    for (int g = 0; g < r.groups(); g++) {
      int first = r.hostOffsets()[g];
      int rows = r.hostOffsets()[g + 1] - first;
      int e = r.hostExpertIds()[g];
      FusedStepOps.linear(s, y + 2L * first * out, out, false, x + 2L * first * in, in,
          stacked + bytes * e * out * in, f8 == null ? null : CudaMoe.Fp8Experts.of(f8, stride, e), 0, rows, in,
          out, s.backend.gemvEnabled());
    }
  }

  private static CudaMoe.Weights moeWeights(MoeWeights w) {
    if (w instanceof CudaMoe.Weights c) {
      return c;
    }
    throw new IllegalArgumentException("expected MoE weights of the CUDA backend, got " + w);
  }
}

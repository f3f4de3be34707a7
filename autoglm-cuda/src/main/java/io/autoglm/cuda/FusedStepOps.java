package io.autoglm.cuda;

import io.autoglm.backend.ForwardStep.ResidualProjection;
import io.autoglm.backend.RopeSpec;

/**
 * The fused small-batch GEMVs of a step, once {@link FusionPolicy} has said yes: gate_up with SiLU·mul, the residual
 * add + RMSNorm in either GEMV's prologue, and the QKV GEMV with bias, RoPE and the KV write in its epilogue. Each
 * computes what the separate ops compute, bit for bit.
 */
final class FusedStepOps {
  private FusedStepOps() {}

  /** A QKV projection: its layer, weight (q, k and v rows), optional bias, head counts and RoPE. */
  record Qkv(int layer, CudaWeight weight, CudaWeight bias, int numHeads, int numKvHeads, RopeSpec spec) {
    long biasPtr() {
      return bias == null ? 0 : bias.ptr();
    }

    String biasLabel() {
      return bias != null ? "+bias" : "";
    }
  }

  /** The gate_up GEMV with SiLU·mul in its epilogue; where the kernel declines, GEMV then siluMul, same output. */
  static CudaActivation linearSiluMul(CudaForwardStep s, CudaActivation a, CudaWeight w) {
    int inter = w.rows() / 2;
    // allocated whether or not the fused kernel declines, so that a replayed graph's arena layout never changes
    CudaActivation gu = s.activation(a.rows(), w.rows(), false);
    CudaActivation out = s.activation(a.rows(), inter, false);
    if (s.recorder.profiling()) {
      s.recorder.label(String.format("linear+siluMul %dx%d (%d rows, GEMV)", w.rows(), w.cols(), a.physRows()));
    }
    s.recorder.track(StepOp.LINEAR_SILU_MUL, out.ptr(), a.ptr() ^ w.ptr());
    if (s.recorder.live()
        && !CudaNative.linearSiluMul(s.ctx, out.ptr(), a.ptr(), a.ld(), w.ptr(), a.physRows(), w.cols(), inter)) {
      // the kernel declined (alignment, split): the unfused ops, into the same output
      CudaNative.linear(s.ctx, gu.ptr(), gu.ld(), false, a.ptr(), a.ld(), w.ptr(), 0, a.physRows(), w.cols(),
          w.rows(), true);
      CudaNative.siluMul(s.ctx, out.ptr(), gu.ptr(), gu.ld(), out.physRows(), inter);
    }
    return out;
  }

  /** Residual add + RMSNorm in the gate_up GEMV's prologue and SiLU·mul in its epilogue. */
  static ResidualProjection addRmsNormLinearSiluMul(CudaForwardStep s, CudaActivation x, CudaActivation y,
      CudaWeight normWeight, float eps, CudaWeight w) {
    int inter = w.rows() / 2;
    CudaActivation sum = s.activation(x.rows(), x.cols(), false);
    CudaActivation out = s.activation(x.rows(), inter, false);
    if (s.recorder.profiling()) {
      s.recorder.label(String.format("addRmsNorm+linear+siluMul %dx%d (%d rows, GEMV)", w.rows(), w.cols(),
          x.physRows()));
    }
    s.recorder.track(StepOp.ADD_RMS_NORM_LINEAR_SILU_MUL, out.ptr(), x.ptr() ^ y.ptr() ^ w.ptr());
    if (s.recorder.live() && !CudaNative.addRmsNormLinearSiluMul(s.ctx, sum.ptr(), out.ptr(), x.ptr(), x.ld(),
        y.ptr(), y.ld(), normWeight.ptr(), eps, w.ptr(), x.physRows(), x.cols(), inter)) {
      throw new IllegalStateException(String.format(
          "the fused addRmsNorm+gate_up kernel declined %d rows × %d features", x.physRows(), x.cols()));
    }
    return new ResidualProjection(sum, out);
  }

  /** The QKV GEMV of the normed rows {@code n} with bias, RoPE of q and k and the KV write; returns q. */
  static CudaActivation qkvRope(CudaForwardStep s, CudaActivation n, Qkv p) {
    CudaWeight w = p.weight();
    CudaKvCache kv = s.kv;
    int headDim = kv.layout().headDim();
    long inv = s.backend.ropeTable(p.spec());
    CudaActivation q = s.activation(n.rows(), p.numHeads() * headDim, false);
    if (s.recorder.profiling()) {
      s.recorder.label(String.format("qkv%s+rope %dx%d (%d rows, GEMV)", p.biasLabel(), w.rows(), w.cols(),
          n.physRows()));
    }
    s.recorder.track(StepOp.QKV_ROPE, q.ptr(), kv.keys(p.layer()) ^ n.ptr());
    if (s.recorder.live() && !CudaNative.linearQkvRope(s.ctx, q.ptr(), n.ptr(), n.ld(), w.ptr(), p.biasPtr(),
        n.physRows(), n.cols(), kv.keys(p.layer()), kv.values(p.layer()), s.slots, s.positions, inv, p.numHeads(),
        p.numKvHeads(), headDim, p.spec().rotaryDim())) {
      throw new IllegalStateException(String.format("the fused QKV+RoPE kernel declined %d rows × %d features",
          n.physRows(), n.cols()));
    }
    return q;
  }

  /** Residual add + RMSNorm in the QKV GEMV's prologue, bias, RoPE and the KV write in its epilogue. */
  static ResidualProjection addRmsNormQkvRope(CudaForwardStep s, CudaActivation x, CudaActivation y,
      CudaWeight normWeight, float eps, Qkv p) {
    CudaWeight w = p.weight();
    CudaKvCache kv = s.kv;
    int headDim = kv.layout().headDim();
    long inv = s.backend.ropeTable(p.spec());
    CudaActivation sum = s.activation(x.rows(), x.cols(), false);
    CudaActivation q = s.activation(x.rows(), p.numHeads() * headDim, false);
    if (s.recorder.profiling()) {
      s.recorder.label(String.format("addRmsNorm+qkv%s+rope %dx%d (%d rows, GEMV)", p.biasLabel(), w.rows(),
          w.cols(), x.physRows()));
    }
    s.recorder.track(StepOp.ADD_RMS_NORM_QKV_ROPE, q.ptr(), kv.keys(p.layer()) ^ x.ptr() ^ y.ptr());
    if (s.recorder.live() && !CudaNative.addRmsNormQkvRope(s.ctx, sum.ptr(), q.ptr(), x.ptr(), x.ld(), y.ptr(),
        y.ld(), normWeight.ptr(), eps, w.ptr(), p.biasPtr(), x.physRows(), x.cols(), kv.keys(p.layer()),
        kv.values(p.layer()), s.slots, s.positions, inv, p.numHeads(), p.numKvHeads(), headDim,
        p.spec().rotaryDim())) {
      throw new IllegalStateException(String.format(
          "the fused addRmsNorm+QKV+RoPE kernel declined %d rows × %d features", x.physRows(), x.cols()));
    }
    return new ResidualProjection(sum, q);
  }
}

package io.autoglm.cuda;

import io.autoglm.backend.ForwardStep.ResidualProjection;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.Tensor;

/**
 * The fused small-batch GEMVs of a step, once {@link FusionPolicy} has said yes: gate_up with SiLU·mul, the residual
 * add + RMSNorm in either GEMV's prologue, and the QKV GEMV with bias, RoPE and the KV write in its epilogue. Each
 * computes what the separate ops compute, bit for bit. FP8 weights take the FP8 GEMVs (gate_up with SiLU·mul, QKV
 * with RoPE; the norm prologues are bf16 only, so the policy leaves them to the separate ops) and {@link #linear}.
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

  /**
   * y = x · Wᵀ (+ bias) for a bf16 or FP8 weight: the small-batch GEMV when {@code gemv} allows (rows <= 8), else
   * cuBLAS; FP8: from {@code cuda.fp8ActMinRows} rows the FP8 × FP8 cuBLASLt GEMM where the weight's blocks allow,
   * else the tensor-core FP8 GEMM up to {@code cuda.fp8MmaMaxRows} rows, beyond them cuBLAS on the weight dequantized
   * into the backend's scratch.
   */
  static void linear(CudaForwardStep s, CudaActivation y, CudaActivation a, CudaWeight w, long bias, boolean gemv) {
    linear(s, y.ptr(), y.ld(), y.fp32(), a.ptr(), a.ld(), w.ptr(), w.fp8(), bias, a.physRows(), w.cols(), w.rows(),
        gemv);
  }

  /** The same on raw pointers: q is the bf16 or e4m3 data, f8 its scales or null (bf16). */
  static void linear(CudaForwardStep s, long y, int ldy, boolean f32, long x, int ldx, long q, CudaWeight.Fp8 f8,
      long bias, int rows, int in, int out, boolean gemv) {
    if (f8 == null) {
      CudaNative.linear(s.ctx, y, ldy, f32, x, ldx, q, bias, rows, in, out, gemv);
    } else {
      CudaNative.linearFp8(s.ctx, y, ldy, f32, x, ldx, q, f8.scales(), f8.sld(), f8.rowShift(), f8.colShift(), bias,
          rows, in, out, gemv, s.backend.settings().fp8MmaMaxRows(), s.backend.settings().fp8ActMinRows(),
          s.backend.fp8Scratch(), s.backend.fp8ScratchBytes());
    }
  }

  /**
   * RoPE of q and k and the KV write of a QKV projection {@code p} computed without its bias (cuBLAS), the bias added
   * in the RoPE kernel: one kernel less than the linear's own bias add, the same values bit for bit.
   */
  static Tensor biasRopeQkv(CudaForwardStep s, CudaActivation p, Qkv q) {
    int headDim = s.kv.layout().headDim();
    int qWidth = q.numHeads() * headDim;
    int kvWidth = q.numKvHeads() * headDim;
    return s.ropeQkv(q.layer(), s.columns(p, 0, qWidth), q.numHeads(), s.columns(p, qWidth, kvWidth),
        s.columns(p, qWidth + kvWidth, kvWidth), q.numKvHeads(), q.spec(), q.biasPtr());
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
    CudaWeight.Fp8 f = w.fp8();
    if (s.recorder.live() && !(f == null
        ? CudaNative.linearSiluMul(s.ctx, out.ptr(), a.ptr(), a.ld(), w.ptr(), a.physRows(), w.cols(), inter)
        : CudaNative.linearSiluMulFp8(s.ctx, out.ptr(), a.ptr(), a.ld(), w.ptr(), f.scales(), f.sld(), f.rowShift(),
            f.colShift(), a.physRows(), w.cols(), inter))) {
      // the kernel declined (alignment, split): the unfused ops, into the same output
      linear(s, gu, a, w, 0, true);
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
    CudaWeight.Fp8 f = w.fp8();
    if (s.recorder.live() && !(f == null
        ? CudaNative.linearQkvRope(s.ctx, q.ptr(), n.ptr(), n.ld(), w.ptr(), p.biasPtr(), n.physRows(), n.cols(),
            kv.keys(p.layer()), kv.values(p.layer()), s.slots, s.positions, inv, p.numHeads(), p.numKvHeads(),
            headDim, p.spec().rotaryDim(), kv.fp8())
        : CudaNative.linearQkvRopeFp8(s.ctx, q.ptr(), n.ptr(), n.ld(), w.ptr(), f.scales(), f.sld(), f.rowShift(),
            f.colShift(), p.biasPtr(), n.physRows(), n.cols(), kv.keys(p.layer()), kv.values(p.layer()), s.slots,
            s.positions, inv, p.numHeads(), p.numKvHeads(), headDim, p.spec().rotaryDim(), kv.fp8()))) {
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
        p.spec().rotaryDim(), kv.fp8())) {
      throw new IllegalStateException(String.format(
          "the fused addRmsNorm+QKV+RoPE kernel declined %d rows × %d features", x.physRows(), x.cols()));
    }
    return new ResidualProjection(sum, q);
  }
}

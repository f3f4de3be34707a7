package io.autoglm.cuda;

import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.Tensor;

/**
 * The ops of a step that cross devices: NCCL collectives of tensor parallelism ({@link NcclCommunicator}) and the
 * activation hand-over between pipeline stages. Collectives run on the step's stream and are tracked like any op,
 * so a captured graph holds them.
 */
final class StepCollectives {
  private StepCollectives() {}

  /**
   * The sum of {@code x} over the ranks of an NCCL group ({@link NcclCommunicator}), into a new activation; padding
   * rows of a graph step are reduced too, so every rank's graph issues the same collective.
   */
  static Tensor allReduceSum(CudaForwardStep s, long comm, Tensor x) {
    CudaActivation a = dense(s, CudaForwardStep.act(x));
    CudaActivation out = s.activation(a.rows(), a.cols(), false);
    s.recorder.track(StepOp.ALL_REDUCE, out.ptr(), a.ptr());
    if (s.recorder.live()) {
      CudaNative.ncclAllReduce(s.ctx, comm, a.ptr(), out.ptr(), (long) a.physRows() * a.cols(), 0);
    }
    return out;
  }

  /**
   * The ranks' column blocks of {@code x} side by side, rank 0's first: an all-gather into (ranks, rows, cols) and
   * one strided copy per rank into (rows, ranks · cols). bf16 activations or the fp32 logits.
   */
  static Tensor allGatherColumns(CudaForwardStep s, long comm, int ranks, Tensor x) {
    if (!(x instanceof CudaActivation in)) {
      throw new IllegalArgumentException("expected an activation of this step, got " + x);
    }
    CudaActivation a = in.fp32() ? in : dense(s, in);
    if (a.ld() != a.cols()) {
      throw new IllegalArgumentException("fp32 tensors are always dense");
    }
    int bytes = a.elementBytes();
    long block = (long) a.physRows() * a.cols();
    long gathered = s.memory.allocate(block * ranks * bytes);
    long ptr = s.memory.allocate(block * ranks * bytes);
    CudaActivation out = new CudaActivation(ptr, a.rows(), a.physRows(), a.cols() * ranks, a.cols() * ranks,
        a.fp32());
    s.recorder.track(StepOp.ALL_GATHER, ptr, a.ptr() + ranks);
    if (s.recorder.live()) {
      CudaNative.ncclAllGather(s.ctx, comm, a.ptr(), gathered, block, a.fp32() ? 1 : 0);
      for (int r = 0; r < ranks; r++) {
        CudaNative.copy2dAsync(s.ctx, ptr + (long) r * a.cols() * bytes, (long) out.ld() * bytes,
            gathered + r * block * bytes, (long) a.cols() * bytes, (long) a.cols() * bytes, a.physRows());
      }
    }
    return out;
  }

  /** {@code a} itself when its rows are contiguous, else a dense copy (collectives need contiguous buffers). */
  private static CudaActivation dense(CudaForwardStep s, CudaActivation a) {
    if (a.ld() == a.cols()) {
      return a;
    }
    CudaActivation out = s.activation(a.rows(), a.cols(), false);
    s.recorder.track(StepOp.DENSE_COPY, out.ptr(), a.ptr());
    if (s.recorder.live()) {
      CudaNative.copy2dAsync(s.ctx, out.ptr(), 2L * a.cols(), a.ptr(), 2L * a.ld(), 2L * a.cols(), a.physRows());
    }
    return out;
  }

  /**
   * Pipeline stages' hand-over, device to device: ends {@code from}'s graph part and waits for it, then copies the
   * activation into {@code to}'s arena on {@code to}'s stream (in {@code to}'s graph when {@code to} is one).
   */
  static Tensor transfer(ForwardStep from, Tensor x, ForwardStep to) {
    if (!(from instanceof CudaForwardStep f) || !(to instanceof CudaForwardStep t)) {
      throw new IllegalArgumentException("CUDA activation transfer between " + from + " and " + to);
    }
    CudaActivation a = CudaForwardStep.act(x);
    f.recorder.runGraph();
    f.recorder.flushProfile();
    CudaNative.synchronize(f.ctx);
    CudaActivation out = t.activation(a.rows(), a.cols(), false);
    if (a.ld() != a.cols() || out.physRows() != a.physRows()) {
      throw new IllegalArgumentException(String.format("transfer of (%d of %d, %d) ld %d into %d rows",
          a.rows(), a.physRows(), a.cols(), a.ld(), out.physRows()));
    }
    t.recorder.track(StepOp.TRANSFER, out.ptr(), a.ptr());
    if (t.recorder.live()) {
      CudaNative.copyAsync(t.ctx, out.ptr(), a.ptr(), 2L * a.physRows() * a.cols());
    }
    return out;
  }
}

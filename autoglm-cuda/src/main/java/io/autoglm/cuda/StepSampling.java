package io.autoglm.cuda;

import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.Tensor;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The end of a step: sampling the fp32 logits with the on-device kernel ({@code sampleK}, one block per row); rows
 * with a grammar's mask, penalties, bias, min-p or logprobs are processed on the device first ({@link CudaSampling}).
 * Sampling ends the step's graph part first, so a graph holds the forward pass only.
 */
final class StepSampling {
  private StepSampling() {}

  /** Tokens for the rows of the fp32 logits; rows with processing or logprobs go through {@link CudaSampling}. */
  static int[] sample(CudaForwardStep s, Tensor logits, List<SamplingRow> rows) {
    return CudaSampling.needed(rows) ? sampleWithLogprobs(s, logits, rows).tokens()
        : sampleOnDevice(s, logits(s, logits, rows), rows);
  }

  /**
   * Rows with a grammar's mask, penalties, logit bias, min-p or logprobs: processed, sampled and scored on the
   * device ({@link CudaSampling}); a step without them samples exactly as before.
   */
  static io.autoglm.backend.Sampled sampleWithLogprobs(CudaForwardStep s, Tensor logits, List<SamplingRow> rows) {
    CudaActivation l = logits(s, logits, rows);
    if (!CudaSampling.needed(rows)) {
      return io.autoglm.backend.Sampled.of(sampleOnDevice(s, l, rows));
    }
    return new CudaSampling(s).sample(l.ptr(), l.ld(), sampleableColumns(rows, l.cols()), rows);
  }

  /** The fp32 logits to sample from, their graph part launched. */
  private static CudaActivation logits(CudaForwardStep s, Tensor logits, List<SamplingRow> rows) {
    if (!(logits instanceof CudaActivation l) || !l.fp32()) {
      throw new IllegalArgumentException("sample needs the fp32 logits of the LM head, got " + logits);
    }
    if (rows.size() != l.rows()) {
      throw new IllegalArgumentException("logits have " + l.rows() + " rows, sampling rows " + rows.size());
    }
    s.recorder.runGraph(); // the graph holds the forward pass only, so it is the same whether toHost or sample ends it
    return l;
  }

  /** Launches {@code sampleK} over {@code rows} rows; returns the device address of the picks. */
  static long sampleKernel(CudaForwardStep s, long logits, int ld, int vocab, long params, int rows) {
    long out = s.memory.allocate(4L * rows);
    s.recorder.track(StepOp.SAMPLE, out, logits);
    CudaNative.sample(s.ctx, out, logits, ld, vocab, params, rows);
    return out;
  }

  /** Copies {@code aBytes} at {@code a} and then {@code bBytes} at {@code b} to the host, and waits for them. */
  static ByteBuffer readBack(CudaForwardStep s, long a, long aBytes, long b, long bBytes) {
    s.recorder.flushProfile();
    ByteBuffer host = s.backend.readback(aBytes + bBytes);
    CudaNative.copyAsync(s.ctx, CudaNative.address(host), a, aBytes);
    if (bBytes > 0) {
      CudaNative.copyAsync(s.ctx, CudaNative.address(host) + aBytes, b, bBytes);
    }
    CudaNative.synchronize(s.ctx);
    return host;
  }

  /** Samples every row with the on-device kernel ({@code sampleK}); masks are not applied. */
  private static int[] sampleOnDevice(CudaForwardStep s, CudaActivation l, List<SamplingRow> rows) {
    int n = l.physRows();
    StepMemory.Input params = s.memory.input(32L * n);
    ByteBuffer b = params.host();
    for (int i = 0; i < n; i++) {
      SamplingRow r = i < rows.size() ? rows.get(i) : new SamplingRow(0, 0, 1, 0, 0);
      b.putFloat(r.temperature()).putInt(r.topK()).putFloat(r.topP()).putInt(0).putLong(r.seed()).putInt(r.step())
          .putInt(0);
    }
    s.copyInput(params);
    long out = s.memory.allocate(4L * n);
    s.recorder.track(StepOp.SAMPLE, out, l.ptr());
    CudaNative.sample(s.ctx, out, l.ptr(), l.ld(), sampleableColumns(rows, l.cols()), params.device(), n);
    s.recorder.flushProfile();
    ByteBuffer host = s.backend.readback(4L * n);
    CudaNative.copyAsync(s.ctx, CudaNative.address(host), out, 4L * n);
    CudaNative.synchronize(s.ctx);
    int[] tokensOut = new int[rows.size()];
    host.asIntBuffer().get(tokensOut);
    return tokensOut;
  }

  /** The leading logits columns that may be picked: the rows' shared vocabulary limit (ids with no text excluded). */
  static int sampleableColumns(List<SamplingRow> rows, int cols) {
    int limit = rows.isEmpty() ? cols : rows.get(0).sampleableColumns(cols);
    for (SamplingRow r : rows) {
      if (r.sampleableColumns(cols) != limit) {
        throw new IllegalArgumentException("sampling rows of one step must share one vocabLimit: " + limit + " and "
            + r.sampleableColumns(cols));
      }
    }
    return limit;
  }
}

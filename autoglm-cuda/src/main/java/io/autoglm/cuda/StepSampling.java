package io.autoglm.cuda;

import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.Tensor;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The end of a step: sampling the fp32 logits with the on-device kernel ({@code sampleK}, one block per row), and on
 * the host for rows a grammar constrains. Sampling ends the step's graph part first, so a graph holds the forward
 * pass only.
 */
final class StepSampling {
  private StepSampling() {}

  /** Tokens for the rows of the fp32 logits: on the device, and on the host for rows that a grammar constrains. */
  static int[] sample(CudaForwardStep s, Tensor logits, List<SamplingRow> rows) {
    if (!(logits instanceof CudaActivation l) || !l.fp32()) {
      throw new IllegalArgumentException("sample needs the fp32 logits of the LM head, got " + logits);
    }
    if (rows.size() != l.rows()) {
      throw new IllegalArgumentException("logits have " + l.rows() + " rows, sampling rows " + rows.size());
    }
    s.recorder.runGraph(); // the graph holds the forward pass only, so it is the same whether toHost or sample ends it
    int[] constrained = java.util.stream.IntStream.range(0, rows.size()).filter(i -> rows.get(i).constrained())
        .toArray();
    return constrained.length == 0 ? sampleOnDevice(s, l, rows) : sampleWithHostMasks(s, l, rows, constrained);
  }

  /**
   * A step holding rows that a grammar constrains: the free rows are sampled on the device as usual, the
   * constrained ones are copied to the host and sampled there with their masks (the device kernel takes no mask
   * yet). Each row's pick is the one its sampler alone would make, so mixing does not change the free rows.
   */
  private static int[] sampleWithHostMasks(CudaForwardStep s, CudaActivation l, List<SamplingRow> rows, int[] constrained) {
    int[] out = constrained.length == rows.size() ? new int[rows.size()] : sampleOnDevice(s, l, rows);
    float[][] host = s.toHost(s.rows(l, constrained));
    for (int k = 0; k < constrained.length; k++) {
      out[constrained[k]] = io.autoglm.sample.Sampler.sample(host[k], rows.get(constrained[k]));
    }
    return out;
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

package io.autoglm.cuda;

import io.autoglm.GenerationResult;
import io.autoglm.backend.RowProcessing;
import io.autoglm.backend.Sampled;
import io.autoglm.backend.SamplingRow;
import io.autoglm.sample.TokenCounts;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Sampling of a step whose rows ask for more than temperature, top-k and top-p: a grammar's mask, penalties, logit
 * bias, min-p or logprobs, all on the device. Each constrained row's allowed-token bitset (151,552 bits ≈ 19 KB at
 * GLM-4's vocabulary), the bias entries and the penalized rows' (id, output count) pairs are uploaded; a kernel
 * writes the processed logits of every row to a scratch copy (free rows are copied unchanged), the usual sampling
 * kernel picks from it, and a logprobs kernel reads the raw logits at the picks. Only the picks and the logprobs
 * (41 floats a row) come back. Steps without these features never come here ({@link StepSampling#sample}).
 */
final class CudaSampling {
  private static final int PARAMS_BYTES = 64;
  private static final int SAMPLE_PARAMS_BYTES = 32;

  private final CudaForwardStep step;

  CudaSampling(CudaForwardStep step) {
    this.step = step;
  }

  /** Whether a step's rows need this path: any mask, logit adjustment or logprobs. */
  static boolean needed(List<SamplingRow> rows) {
    for (SamplingRow r : rows) {
      if (r.constrained() || r.processing().isPresent()) {
        return true;
      }
    }
    return false;
  }

  /** Picks and logprobs of {@code rows} from fp32 logits at {@code logits} (row stride {@code ld}). */
  Sampled sample(long logits, int ld, int vocab, List<SamplingRow> rows) {
    int n = rows.size();
    boolean adjust = rows.stream().anyMatch(r -> r.constrained() || r.adjustsLogits());
    boolean logprobs = rows.stream().anyMatch(SamplingRow::wantsLogprobs);
    long params = uploadParams(rows);
    long src = logits;
    int srcLd = ld;
    if (adjust) {
      src = step.memory.allocate(4L * n * vocab);
      long masks = uploadMasks(rows);
      long[] bias = uploadBias(rows);
      long hist = uploadHistory(rows);
      CudaSamplingNative.process(step.ctx, src, vocab, logits, ld, vocab, params, n, masks, bias[0], bias[1],
          hist);
      srcLd = vocab;
    }
    long tokens = StepSampling.sampleKernel(step, src, srcLd, vocab, sampleParams(rows), n);
    int stride = CudaSamplingNative.logprobStride();
    long lp = 0;
    if (logprobs) {
      lp = step.memory.allocate(4L * n * stride);
      CudaSamplingNative.logprobs(step.ctx, lp, logits, ld, vocab, params, tokens, n);
    }
    ByteBuffer host = StepSampling.readBack(step, tokens, 4L * n, lp, logprobs ? 4L * n * stride : 0);
    int[] picks = new int[n];
    host.asIntBuffer().get(picks);
    GenerationResult.TokenLogprobs[] out = new GenerationResult.TokenLogprobs[n];
    if (logprobs) {
      var floats = host.position(4 * n).slice().order(host.order()).asFloatBuffer();
      for (int i = 0; i < n; i++) {
        int top = rows.get(i).processing().map(RowProcessing::topLogprobs).orElse(-1);
        if (top >= 0) {
          out[i] = logprobsOf(floats, i * stride, picks[i], Math.min(top, vocab));
        }
      }
    }
    return new Sampled(picks, out);
  }

  private static GenerationResult.TokenLogprobs logprobsOf(java.nio.FloatBuffer f, int at, int token, int top) {
    List<GenerationResult.TokenLogprobs.Candidate> c = new ArrayList<>(top);
    for (int k = 0; k < top; k++) {
      c.add(new GenerationResult.TokenLogprobs.Candidate(Float.floatToRawIntBits(f.get(at + 1 + 2 * k)), f.get(at + 2 + 2 * k)));
    }
    return new GenerationResult.TokenLogprobs(token, f.get(at), c);
  }

  /** The 64-byte ProcessParams of each row (sampling_ext.cu), with offsets into the uploads below. */
  private long uploadParams(List<SamplingRow> rows) {
    StepMemory.Input in = step.memory.input((long) PARAMS_BYTES * rows.size());
    ByteBuffer b = in.host();
    int maskWord = 0;
    int bias = 0;
    int hist = 0;
    for (SamplingRow r : rows) {
      RowProcessing p = r.processing().orElse(null);
      int words = r.allowedTokens().map(m -> m.length).orElse(0);
      int biasCount = p == null ? 0 : p.biasIds().length;
      int histCount = p == null || !p.penalizes() ? 0 : p.history().size();
      b.putFloat(r.temperature()).putFloat(p == null ? 0 : p.presencePenalty())
          .putFloat(p == null ? 0 : p.frequencyPenalty()).putFloat(p == null ? 1 : p.repetitionPenalty())
          .putFloat(p == null ? 0 : p.minP()).putInt(r.constrained() ? maskWord : -1).putInt(words)
          .putInt(bias).putInt(biasCount).putInt(hist).putInt(histCount)
          .putInt(p == null ? -1 : p.topLogprobs()).putInt(0).putInt(0).putInt(0).putInt(0);
      maskWord += words;
      bias += biasCount;
      hist += histCount;
    }
    step.copyInput(in);
    return in.device();
  }

  private long uploadMasks(List<SamplingRow> rows) {
    long words = rows.stream().mapToLong(r -> r.allowedTokens().map(m -> m.length).orElse(0)).sum();
    StepMemory.Input in = step.memory.input(Math.max(8, 8 * words));
    var longs = in.host().asLongBuffer();
    rows.forEach(r -> r.allowedTokens().ifPresent(longs::put));
    step.copyInput(in);
    return in.device();
  }

  /** {ids, values} device addresses of every row's bias entries, concatenated. */
  private long[] uploadBias(List<SamplingRow> rows) {
    int count = rows.stream().mapToInt(r -> r.processing().map(p -> p.biasIds().length).orElse(0)).sum();
    StepMemory.Input ids = step.memory.input(Math.max(4, 4L * count));
    StepMemory.Input values = step.memory.input(Math.max(4, 4L * count));
    var i = ids.host().asIntBuffer();
    var v = values.host().asFloatBuffer();
    for (SamplingRow r : rows) {
      r.processing().ifPresent(p -> {
        i.put(p.biasIds());
        v.put(p.biasValues());
      });
    }
    step.copyInput(ids);
    step.copyInput(values);
    return new long[] {ids.device(), values.device()};
  }

  private long uploadHistory(List<SamplingRow> rows) {
    long count = 0;
    for (SamplingRow r : rows) {
      count += r.processing().filter(RowProcessing::penalizes).map(p -> p.history().size()).orElse(0);
    }
    StepMemory.Input in = step.memory.input(Math.max(8, 8 * count));
    var ints = in.host().asIntBuffer();
    for (SamplingRow r : rows) {
      r.processing().filter(RowProcessing::penalizes).ifPresent(p -> {
        TokenCounts h = p.history();
        for (int e = 0; e < h.size(); e++) {
          ints.put(h.id(e)).put(h.generated(e));
        }
      });
    }
    step.copyInput(in);
    return in.device();
  }

  /** The sampling kernel's 32-byte SampleParams (kernels.cuh) of each row. */
  private long sampleParams(List<SamplingRow> rows) {
    StepMemory.Input in = step.memory.input((long) SAMPLE_PARAMS_BYTES * rows.size());
    ByteBuffer b = in.host();
    for (SamplingRow r : rows) {
      b.putFloat(r.temperature()).putInt(r.topK()).putFloat(r.topP()).putInt(0).putLong(r.seed()).putInt(r.step())
          .putInt(0);
    }
    step.copyInput(in);
    return in.device();
  }
}

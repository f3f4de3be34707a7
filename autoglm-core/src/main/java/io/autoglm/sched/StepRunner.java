package io.autoglm.sched;

import io.autoglm.GenerationResult;
import io.autoglm.backend.Sampled;
import io.autoglm.model.ModelRunner;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Runs one scheduled step, vLLM v1's model runner: builds the flat batch, runs the forward pass and samples, and
 * returns a plain {@link Output}. It changes no sequence; {@link Scheduler#update} applies the output.
 */
public final class StepRunner {
  private final ModelRunner runner;
  private final int vocabLimit;

  /**
   * The results of one step, chunk by chunk in the order of {@link Scheduler.Output#chunks()}.
   *
   * @param sampled the token each chunk sampled; empty for a chunk that does not reach its sequence's end
   * @param capturedLogits the logits rows of each chunk's positions, one per position, for a sequence that
   *     captures them; empty otherwise
   * @param logprobs the sampled token's logprobs, for a chunk whose request asked for them; empty otherwise
   */
  public record Output(List<OptionalInt> sampled, List<List<float[]>> capturedLogits,
      List<Optional<GenerationResult.TokenLogprobs>> logprobs) {
    public Output {
      if (sampled.size() != capturedLogits.size() || sampled.size() != logprobs.size()) {
        throw new IllegalArgumentException("sampled has " + sampled.size() + " chunks, capturedLogits "
            + capturedLogits.size() + ", logprobs " + logprobs.size());
      }
      sampled = List.copyOf(sampled);
      capturedLogits = List.copyOf(capturedLogits);
      logprobs = List.copyOf(logprobs);
    }

    /** An output without logprobs. */
    public Output(List<OptionalInt> sampled, List<List<float[]>> capturedLogits) {
      this(sampled, capturedLogits, java.util.Collections.nCopies(sampled.size(), Optional.empty()));
    }
  }

  /** @param vocabLimit ids at or above it are never sampled (the tokenizer has no text for them) */
  public StepRunner(ModelRunner runner, int vocabLimit) {
    if (vocabLimit < 1) {
      throw new IllegalArgumentException("vocabLimit (" + vocabLimit + ") must be >= 1");
    }
    this.runner = runner;
    this.vocabLimit = vocabLimit;
  }

  public int blockSizeTokens() {
    return runner.kvLayout().blockSizeTokens();
  }

  /** Forward over the scheduled chunks, then samples each chunk that reaches its sequence's last token. */
  public Output run(Scheduler.Output scheduled) {
    List<Scheduler.Chunk> chunks = scheduled.chunks();
    StepInputs in = StepInputs.of(chunks, blockSizeTokens(), vocabLimit);
    Raw raw = runner.step(in.batch(), in.logitRows(), (step, logits) -> {
      float[][] host = in.anyCapture() ? step.toHost(logits) : null;
      Sampled sampled = in.sampleRows().length == 0 ? Sampled.of(new int[0])
          : step.sampleWithLogprobs(in.sampleRows().length == in.logitRows().length ? logits
              : step.rows(logits, in.sampleRows()), in.samplingRows());
      return new Raw(host, sampled);
    });
    List<OptionalInt> sampled = new ArrayList<>(chunks.size());
    List<List<float[]>> captured = new ArrayList<>(chunks.size());
    List<Optional<GenerationResult.TokenLogprobs>> logprobs = new ArrayList<>(chunks.size());
    int next = 0;
    for (int i = 0; i < chunks.size(); i++) {
      Scheduler.Chunk c = chunks.get(i);
      logprobs.add(c.samples() ? Optional.ofNullable(raw.sampled().logprobs()[next]) : Optional.empty());
      sampled.add(c.samples() ? OptionalInt.of(raw.sampled().tokens()[next++]) : OptionalInt.empty());
      captured.add(c.seq().captureLogits() && raw.host() != null
          ? java.util.Arrays.asList(java.util.Arrays.copyOfRange(raw.host(), in.firstLogitRow()[i],
              in.firstLogitRow()[i] + c.numTokens())) : List.of());
    }
    return new Output(sampled, captured, logprobs);
  }

  /** The step's host logits (only when some sequence captures; else null) and the sampled token of each row. */
  private record Raw(float[][] host, Sampled sampled) {}
}

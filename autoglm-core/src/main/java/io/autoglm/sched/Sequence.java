package io.autoglm.sched;

import io.autoglm.FinishReason;
import io.autoglm.SamplingParams;
import io.autoglm.GenerationResult;
import io.autoglm.backend.RowProcessing;
import io.autoglm.backend.SamplingRow;
import io.autoglm.sample.TokenCounts;
import io.autoglm.grammar.GrammarMatcher;
import io.autoglm.kv.KvCacheManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One request's state inside the engine: its tokens (prompt then output), how many of them have KV in the cache,
 * and its blocks. Touched only by the engine thread, except {@link #requestCancel()}.
 */
public final class Sequence {
  /** Receives a sequence's tokens and its end. Called on the engine thread: implementations must not block. */
  public interface Listener {
    /** A new token; returning true ends the request now with STOP (a stop string matched). */
    boolean onToken(int index, int tokenId);

    /**
     * A new token with its logprobs when the request asked for them ({@link SamplingParams#logprobs()}); by
     * default {@link #onToken(int, int)}.
     */
    default boolean onToken(int index, int tokenId, Optional<GenerationResult.TokenLogprobs> logprobs) {
      return onToken(index, tokenId);
    }

    void onFinish(Sequence seq, FinishReason reason);

    /**
     * This sequence failed alone (its own token handling threw): it ends with {@link FinishReason#ERROR} while the
     * rest of the batch goes on. By default the same as {@link #onError}.
     */
    default void onFailedAlone(Sequence seq, Throwable cause) {
      onError(seq, cause);
    }

    /** The sequence's step failed as a whole (a backend error), or the engine stopped on an internal error. */
    void onError(Sequence seq, Throwable error);

    /** The scheduler took the sequence from the waiting queue into the running batch (again after a preemption). */
    default void onAdmitted() {}
  }

  private final String id;
  private final int promptLength;
  private final SamplingParams params;
  private final long seed;
  private final long deadlineNanos;
  private final boolean captureLogits;
  private final Listener listener;
  private final Optional<GrammarMatcher> grammar; // constrains each sampled token (structured output)
  private final Optional<RowProcessing> processing; // penalties, bias, min-p, logprobs; empty when none asked
  private final KvCacheManager.SequenceBlocks blocks = new KvCacheManager.SequenceBlocks();
  private final List<float[]> capturedLogits = new ArrayList<>();
  private int[] tokens; // (capacity) prompt then output; only [0, length) is meaningful
  private int length;
  private int numComputed; // tokens whose K/V are in the cache
  private OptionalInt cachedPromptTokens = OptionalInt.empty(); // prefix-cache hit at first admission
  private int preemptions;
  private boolean finished;
  private boolean listenerEnded; // the delivery thread's: its listener heard of its end
  private volatile boolean cancelRequested;

  /**
   * @param deadlineNanos {@link System#nanoTime()} after which the request times out; Long.MAX_VALUE for none
   * @param captureLogits keep the logits of every computed position (conformance checks)
   */
  public Sequence(String id, int[] prompt, SamplingParams params, long seed, long deadlineNanos,
      boolean captureLogits, Listener listener) {
    this(id, prompt, params, seed, deadlineNanos, captureLogits, listener, Optional.empty());
  }

  /** @param grammar when present, only the tokens it allows are sampled, and each sampled token advances it */
  public Sequence(String id, int[] prompt, SamplingParams params, long seed, long deadlineNanos,
      boolean captureLogits, Listener listener, Optional<GrammarMatcher> grammar) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("prompt must hold at least one token");
    }
    this.id = id;
    this.promptLength = prompt.length;
    this.params = params;
    this.seed = seed;
    this.deadlineNanos = deadlineNanos;
    this.captureLogits = captureLogits;
    this.listener = listener;
    this.grammar = grammar;
    this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(params.maxNewTokens(), 1024));
    this.length = prompt.length;
    this.processing = processing(params, prompt);
  }

  /** The row extras a request asks for; the token counts only when a penalty is on (the prompt's for repetition). */
  private static Optional<RowProcessing> processing(SamplingParams p, int[] prompt) {
    if (!p.adjustsLogits() && p.logprobs().isEmpty()) {
      return Optional.empty();
    }
    int[] biasIds = new int[p.logitBias().size()];
    float[] biasValues = new float[biasIds.length];
    int i = 0;
    for (var e : new java.util.TreeMap<>(p.logitBias()).entrySet()) {
      biasIds[i] = e.getKey();
      biasValues[i++] = e.getValue();
    }
    boolean penalizes = p.presencePenalty() != 0 || p.frequencyPenalty() != 0 || p.repetitionPenalty() != 1;
    TokenCounts counts = penalizes ? TokenCounts.of(prompt, p.repetitionPenalty() != 1) : new TokenCounts();
    return Optional.of(new RowProcessing((float) p.presencePenalty(), (float) p.frequencyPenalty(),
        (float) p.repetitionPenalty(), (float) p.minP(), biasIds, biasValues, counts, p.logprobs().orElse(-1)));
  }

  public String id() {
    return id;
  }

  public SamplingParams params() {
    return params;
  }

  public int promptLength() {
    return promptLength;
  }

  public int numTokens() {
    return length;
  }

  public int numOutputTokens() {
    return length - promptLength;
  }

  public int tokenAt(int position) {
    return tokens[position];
  }

  /** Prompt and output so far; a copy. */
  public int[] tokens() {
    return Arrays.copyOf(tokens, length);
  }

  public List<Integer> outputTokens() {
    List<Integer> out = new ArrayList<>(length - promptLength);
    for (int i = promptLength; i < length; i++) {
      out.add(tokens[i]);
    }
    return out;
  }

  public int numComputed() {
    return numComputed;
  }

  void setNumComputed(int n) {
    numComputed = n;
  }

  public KvCacheManager.SequenceBlocks blocks() {
    return blocks;
  }

  public long deadlineNanos() {
    return deadlineNanos;
  }

  public boolean captureLogits() {
    return captureLogits;
  }

  public List<float[]> capturedLogits() {
    return capturedLogits;
  }

  /** Prompt tokens the prefix cache held when the sequence was first admitted; empty until then. */
  public OptionalInt cachedPromptTokens() {
    return cachedPromptTokens;
  }

  void noteAdmitted(int cachedTokens) {
    if (cachedPromptTokens.isEmpty()) {
      cachedPromptTokens = OptionalInt.of(cachedTokens);
    }
  }

  public int preemptions() {
    return preemptions;
  }

  void notePreempted() {
    preemptions++;
  }

  public boolean isFinished() {
    return finished;
  }

  public Listener listener() {
    return listener;
  }

  /** Asks the engine to stop this request and free its blocks; safe from any thread. */
  public void requestCancel() {
    cancelRequested = true;
  }

  public boolean cancelRequested() {
    return cancelRequested;
  }

  /** The sampling settings of the next token; a constrained sequence's row carries its grammar's mask. */
  SamplingRow samplingRow(int vocabLimit) {
    return new SamplingRow((float) params.temperature(), params.topK(), (float) params.topP(), seed,
        numOutputTokens(), vocabLimit, grammar.map(GrammarMatcher::allowedTokens), processing);
  }

  /** Appends a sampled token and says whether it ends the request. */
  Optional<FinishReason> append(int token, List<Integer> eosIds, int maxModelLen) {
    grammar.ifPresent(g -> g.accept(token)); // throws for a token the mask did not allow: the sequence fails alone
    if (length == tokens.length) {
      tokens = Arrays.copyOf(tokens, Math.min(tokens.length * 2, promptLength + params.maxNewTokens()));
    }
    tokens[length++] = token;
    processing.filter(RowProcessing::penalizes).ifPresent(p -> p.history().addGenerated(token));
    boolean stopToken = params.stopTokenIds().contains(token) || (!params.ignoreEos() && eosIds.contains(token));
    if (stopToken) {
      return Optional.of(FinishReason.STOP);
    }
    if (numOutputTokens() >= params.maxNewTokens() || length >= maxModelLen) {
      return Optional.of(FinishReason.LENGTH);
    }
    return Optional.empty();
  }

  void markFinished() {
    finished = true;
  }

  /** Whether the listener heard of the end already (the delivery thread's view; see {@code Delivery}). */
  boolean listenerEnded() {
    return listenerEnded;
  }

  void markListenerEnded() {
    listenerEnded = true;
  }

  @Override
  public String toString() {
    return "Sequence[" + id + ", tokens=" + length + ", computed=" + numComputed + "]";
  }
}

package io.autoglm.sched;

import io.autoglm.FinishReason;
import io.autoglm.kv.KvCacheManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Picks each step's work, vLLM-v1 style: {@link #schedule()} returns a plain {@link Output} (running sequences
 * first, a decode token or the next prefill chunk, then waiting ones while the token budget and sequence limit
 * allow), the runner returns a {@link StepRunner.Output}, and {@link #update} applies it. When KV blocks run out,
 * the most recently admitted running sequence is preempted: its blocks are freed and it waits at the head of the
 * queue to be recomputed.
 *
 * <p>Invariant: a sequence is in exactly one of waiting or running, or in neither once finished or aborted.
 */
public final class Scheduler {
  /** A run of one sequence's tokens in this step: positions [start, start + numTokens). */
  public record Chunk(Sequence seq, int start, int numTokens) {
    /** Whether this chunk reaches the sequence's last token, so the step samples its next one. */
    public boolean samples() {
      return start + numTokens == seq.numTokens();
    }
  }

  /** What one step runs, and whom it preempted to make room. */
  public record Output(List<Chunk> chunks, List<Sequence> preempted, List<Sequence> admitted) {
    public int numTokens() {
      return chunks.stream().mapToInt(Chunk::numTokens).sum();
    }
  }

  private final SchedulerConfig config;
  private final KvCacheManager kv;
  private final Deque<Sequence> waiting = new ArrayDeque<>();
  private final List<Sequence> running = new ArrayList<>();
  private long preemptions;

  public Scheduler(SchedulerConfig config, KvCacheManager kv) {
    this.config = config;
    this.kv = kv;
  }

  public void add(Sequence seq) {
    waiting.addLast(seq);
  }

  public int numWaiting() {
    return waiting.size();
  }

  public int numRunning() {
    return running.size();
  }

  public long preemptions() {
    return preemptions;
  }

  /** Used KV blocks over usable ones, in [0, 1]. */
  public double kvUsage() {
    return kv.usage();
  }

  public boolean hasWork() {
    return !waiting.isEmpty() || !running.isEmpty();
  }

  /** Every sequence the scheduler holds, running first. */
  public List<Sequence> all() {
    List<Sequence> all = new ArrayList<>(running);
    all.addAll(waiting);
    return all;
  }

  /** The sequences held (running first) that {@code test} accepts, without copying the others. */
  public List<Sequence> held(java.util.function.Predicate<Sequence> test) {
    List<Sequence> out = new ArrayList<>(0);
    for (Sequence s : running) {
      if (test.test(s)) {
        out.add(s);
      }
    }
    for (Sequence s : waiting) {
      if (test.test(s)) {
        out.add(s);
      }
    }
    return out;
  }

  public Output schedule() {
    int budget = config.maxBatchTokens();
    List<Chunk> chunks = new ArrayList<>();
    List<Sequence> preempted = new ArrayList<>();
    List<Sequence> admitted = new ArrayList<>();
    for (int i = 0; i < running.size() && budget > 0; i++) {
      Sequence s = running.get(i);
      int n = Math.min(s.numTokens() - s.numComputed(), budget);
      boolean scheduled = true;
      while (!kv.allocate(s.blocks(), s.numComputed() + n)) {
        Sequence victim = running.remove(running.size() - 1);
        preempt(victim);
        preempted.add(victim);
        if (victim == s) {
          scheduled = false;
          break;
        }
      }
      if (!scheduled) {
        break;
      }
      chunks.add(new Chunk(s, s.numComputed(), n));
      budget -= n;
    }
    if (preempted.isEmpty()) {
      while (!waiting.isEmpty() && running.size() < config.maxRunningSequences() && budget > 0) {
        Sequence s = waiting.peekFirst();
        if (s.blocks().blocks().isEmpty() && !s.captureLogits()) { // capturing needs every position computed
          s.setNumComputed(kv.matchPrefix(s.blocks(), s.tokens()));
        }
        int n = Math.min(s.numTokens() - s.numComputed(), budget);
        if (!kv.allocate(s.blocks(), s.numComputed() + n)) {
          kv.free(s.blocks());
          s.setNumComputed(0);
          break;
        }
        waiting.pollFirst();
        if (s.preemptions() == 0) {
          admitted.add(s);
        }
        s.noteAdmitted(s.numComputed());
        running.add(s);
        chunks.add(new Chunk(s, s.numComputed(), n));
        budget -= n;
      }
    }
    return new Output(List.copyOf(chunks), List.copyOf(preempted), List.copyOf(admitted));
  }

  private void preempt(Sequence s) {
    kv.free(s.blocks());
    s.setNumComputed(0);
    s.notePreempted();
    preemptions++;
    waiting.addFirst(s);
  }

  /**
   * What one chunk's step did to its sequence.
   *
   * @param token the sampled token, when the chunk sampled one (it is appended)
   * @param finished why the sequence ends, when a stop token or a length limit ended it
   * @param failure what went wrong in this sequence's own handling (its grammar refused the token): it fails alone
   * @param logprobs the sampled token's logprobs, when its request asked for them
   */
  public record Update(Sequence seq, OptionalInt token, Optional<FinishReason> finished,
      Optional<RuntimeException> failure, Optional<io.autoglm.GenerationResult.TokenLogprobs> logprobs) {
    /** An update without logprobs. */
    public Update(Sequence seq, OptionalInt token, Optional<FinishReason> finished,
        Optional<RuntimeException> failure) {
      this(seq, token, finished, failure, Optional.empty());
    }
  }

  /**
   * Applies a step's results, vLLM v1's {@code update_from_output}: each chunk's tokens are computed, a capturing
   * sequence keeps its logits rows, a sampled token is appended (ending the sequence at a stop id or a length
   * limit), and full blocks are published to the prefix cache. One sequence's failure does not stop the others. A
   * chunk whose sequence was removed since it was scheduled (its listener ended it) is skipped: no update.
   */
  public List<Update> update(Output scheduled, StepRunner.Output ran, List<Integer> eosIds, int maxModelLen) {
    List<Update> updates = new ArrayList<>(scheduled.chunks().size());
    for (int i = 0; i < scheduled.chunks().size(); i++) {
      Chunk c = scheduled.chunks().get(i);
      if (c.seq().isFinished()) {
        continue;
      }
      OptionalInt token = ran.sampled().get(i);
      try {
        computed(c);
        c.seq().capturedLogits().addAll(ran.capturedLogits().get(i));
        Optional<FinishReason> done = token.isPresent()
            ? c.seq().append(token.getAsInt(), eosIds, maxModelLen) : Optional.empty();
        publish(c.seq());
        updates.add(new Update(c.seq(), token, done, Optional.empty(), ran.logprobs().get(i)));
      } catch (RuntimeException e) {
        updates.add(new Update(c.seq(), token, Optional.empty(), Optional.of(e), Optional.empty()));
      }
    }
    return updates;
  }

  /** Records that a chunk's tokens now have K/V in the cache, and publishes its full blocks. */
  public void computed(Chunk chunk) {
    Sequence s = chunk.seq();
    s.setNumComputed(chunk.start() + chunk.numTokens());
  }

  /** Publishes a sequence's full blocks to the prefix cache (after its sampled token, if any, is appended). */
  public void publish(Sequence s) {
    if (!kv.prefixCaching() || s.numComputed() / kv.blockSizeTokens() <= s.blocks().numPublished()) {
      return; // (without prefix caching nothing is published: no copy of the tokens)
    }
    kv.publishFullBlocks(s.blocks(), s.tokens(), s.numComputed());
  }

  /** Removes a sequence (finished, cancelled, timed out or failed) and frees its blocks at once. */
  public void remove(Sequence s) {
    running.remove(s);
    waiting.remove(s);
    kv.free(s.blocks());
    s.markFinished();
  }

  /**
   * Audits the pool against the sequences: every live sequence's blocks are in use and cover its computed tokens,
   * each block's ref count equals the number of sequences holding it, and free + used = total - 1.
   *
   * @throws IllegalStateException naming the first inconsistency
   */
  public void checkInvariants() {
    int[] refs = new int[kv.numBlocks()];
    for (Sequence s : all()) {
      int needed = (s.numComputed() + kv.blockSizeTokens() - 1) / kv.blockSizeTokens();
      if (s.blocks().blocks().size() < needed) {
        throw new IllegalStateException(s + " holds " + s.blocks().blocks().size() + " blocks, needs " + needed);
      }
      for (int b : s.blocks().blocks()) {
        if (b == 0) {
          throw new IllegalStateException(s + " holds the null block 0");
        }
        refs[b]++;
      }
    }
    for (Sequence s : waiting) {
      if (!s.blocks().blocks().isEmpty() && s.numComputed() == 0) {
        throw new IllegalStateException("waiting " + s + " holds blocks without computed tokens");
      }
    }
    kv.checkInvariants(refs);
  }
}

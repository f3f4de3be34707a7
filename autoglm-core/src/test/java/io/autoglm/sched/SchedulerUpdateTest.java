package io.autoglm.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import io.autoglm.SamplingParams;
import io.autoglm.kv.BlockPool;
import io.autoglm.kv.KvCacheManager;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The vLLM v1 step on tiny sizes, without a model: {@link Scheduler#schedule()} gives a plain output, a hand-made
 * {@link StepRunner.Output} stands for the runner, and {@link Scheduler#update} applies it. Blocks of 4 tokens; the
 * free queue hands out 1, 2, 3, … first. The pool invariant is audited after every test.
 */
class SchedulerUpdateTest {
  private static final Sequence.Listener NOOP = new Sequence.Listener() {
    @Override
    public boolean onToken(int index, int tokenId) {
      return false;
    }

    @Override
    public void onFinish(Sequence seq, FinishReason reason) {}

    @Override
    public void onError(Sequence seq, Throwable error) {}
  };
  private static final List<Integer> EOS = List.of(99);

  private Scheduler scheduler;

  @BeforeEach
  void setUp() {
    scheduler = new Scheduler(new SchedulerConfig(8, 6), new KvCacheManager(new BlockPool(8), 4, true));
  }

  @AfterEach
  void invariants() {
    scheduler.checkInvariants();
  }

  private static Sequence seq(String id, int[] prompt, int maxNewTokens, boolean capture) {
    return new Sequence(id, prompt, SamplingParams.greedy(maxNewTokens), 0, Long.MAX_VALUE, capture, NOOP);
  }

  @Test
  void aChunkedPrefillSamplesOnlyWhenItReachesThePromptsEnd() {
    Sequence a = seq("a", new int[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, false); // 8 tokens, budget 6 per step
    scheduler.add(a);
    Scheduler.Output first = scheduler.schedule();
    assertEquals(List.of(new Scheduler.Chunk(a, 0, 6)), first.chunks());
    List<Scheduler.Update> u1 = scheduler.update(first, new StepRunner.Output(List.of(OptionalInt.empty()),
        List.of(List.of())), EOS, 1024);
    // tokens 0..5 computed, nothing appended, block 1 ([1..4]) full and published, block 2 half full
    assertEquals(List.of(new Scheduler.Update(a, OptionalInt.empty(), Optional.empty(), Optional.empty())), u1);
    assertEquals(6, a.numComputed());
    assertEquals(8, a.numTokens());
    assertEquals(1, a.blocks().numPublished());

    Scheduler.Output second = scheduler.schedule();
    assertEquals(List.of(new Scheduler.Chunk(a, 6, 2)), second.chunks());
    List<Scheduler.Update> u2 = scheduler.update(second, new StepRunner.Output(List.of(OptionalInt.of(42)),
        List.of(List.of())), EOS, 1024);
    assertEquals(OptionalInt.of(42), u2.get(0).token());
    assertEquals(Optional.empty(), u2.get(0).finished());
    assertEquals(List.of(42), a.outputTokens());
    assertEquals(2, a.blocks().numPublished(), "the 8 prompt tokens fill blocks 1 and 2");
  }

  @Test
  void anEosOrTheLengthLimitEndsTheSequenceAndTheBatchGoesOn() {
    Sequence stops = seq("eos", new int[] {1, 2}, 8, false);
    Sequence runsOut = seq("len", new int[] {3, 4}, 1, false);
    scheduler.add(stops);
    scheduler.add(runsOut);
    Scheduler.Output out = scheduler.schedule();
    List<Scheduler.Update> u = scheduler.update(out, new StepRunner.Output(
        List.of(OptionalInt.of(99), OptionalInt.of(5)), List.of(List.of(), List.of())), EOS, 1024);
    assertEquals(Optional.of(FinishReason.STOP), u.get(0).finished(), "99 is an eos id");
    assertEquals(Optional.of(FinishReason.LENGTH), u.get(1).finished(), "maxNewTokens 1 reached");
    scheduler.remove(stops);
    scheduler.remove(runsOut);
    assertTrue(!scheduler.hasWork());
  }

  @Test
  void aCapturingSequenceKeepsOneLogitsRowPerComputedPosition() {
    Sequence c = seq("c", new int[] {1, 2, 3}, 1, true);
    scheduler.add(c);
    Scheduler.Output out = scheduler.schedule();
    float[][] rows = {{0.1f}, {0.2f}, {0.3f}};
    scheduler.update(out, new StepRunner.Output(List.of(OptionalInt.of(7)), List.of(java.util.Arrays.asList(rows))),
        EOS, 1024);
    assertEquals(3, c.capturedLogits().size());
    assertEquals(0.3f, c.capturedLogits().get(2)[0]);
    scheduler.remove(c);
  }

  @Test
  void aRunnerOutputMustCoverEveryChunk() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new StepRunner.Output(List.of(OptionalInt.empty()), List.of()));
    assertEquals("sampled has 1 chunks, capturedLogits 0, logprobs 1", e.getMessage());
    IllegalArgumentException lp = assertThrows(IllegalArgumentException.class,
        () -> new StepRunner.Output(List.of(OptionalInt.empty()), List.of(List.of()), List.of()));
    assertEquals("sampled has 1 chunks, capturedLogits 1, logprobs 0", lp.getMessage());
  }
}

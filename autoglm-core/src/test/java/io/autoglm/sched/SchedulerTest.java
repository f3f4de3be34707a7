package io.autoglm.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.FinishReason;
import io.autoglm.SamplingParams;
import io.autoglm.kv.BlockPool;
import io.autoglm.kv.KvCacheManager;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Scheduler and block accounting on tiny sizes, with exact block ids (the free queue hands out 1, 2, 3, … first).
 * The pool invariant is audited after every test.
 */
class SchedulerTest {
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

  private BlockPool pool;
  private Scheduler scheduler;

  private void setUp(int blocks, int blockSize, boolean prefixCaching, int maxBatchTokens) {
    pool = new BlockPool(blocks);
    scheduler = new Scheduler(new SchedulerConfig(8, maxBatchTokens), new KvCacheManager(pool, blockSize, prefixCaching));
  }

  @AfterEach
  void invariants() {
    scheduler.checkInvariants();
  }

  private static Sequence seq(String id, int[] prompt) {
    return new Sequence(id, prompt, SamplingParams.greedy(16), 0, Long.MAX_VALUE, false, NOOP);
  }

  private static int[] range(int from, int n) {
    return IntStream.range(from, from + n).toArray();
  }

  /** Runs one step: every chunk computed, sampling chunks get token 7. */
  private Scheduler.Output step() {
    Scheduler.Output out = scheduler.schedule();
    for (Scheduler.Chunk c : out.chunks()) {
      scheduler.computed(c);
      if (c.samples()) {
        c.seq().append(7, List.of(), 1 << 20);
      }
      scheduler.publish(c.seq());
    }
    return out;
  }

  @Test
  void sharedPrefixBlocksAreAllocatedOnce() {
    setUp(10, 4, true, 64);
    Sequence a = seq("a", range(100, 13)); // blocks: [100..103] [104..107] [108..111] [112]
    scheduler.add(a);
    step();
    assertEquals(List.of(1, 2, 3, 4), a.blocks().blocks());
    int[] bPrompt = new int[14];
    System.arraycopy(range(100, 12), 0, bPrompt, 0, 12);
    bPrompt[12] = 5;
    bPrompt[13] = 6;
    Sequence b = seq("b", bPrompt);
    scheduler.add(b);
    Scheduler.Output out = step();
    // b reuses a's three full blocks and takes one new block; only its 2 uncached tokens are computed
    assertEquals(List.of(1, 2, 3, 5), b.blocks().blocks());
    assertEquals(12, b.cachedPromptTokens().orElseThrow());
    assertEquals(2, pool.refCount(1));
    assertEquals(2, pool.refCount(2));
    assertEquals(2, pool.refCount(3));
    assertEquals(1, pool.refCount(5));
    Scheduler.Chunk bChunk = out.chunks().stream().filter(c -> c.seq() == b).findFirst().orElseThrow();
    assertEquals(12, bChunk.start());
    assertEquals(2, bChunk.numTokens());
  }

  @Test
  void prefixCachingOffSharesNothing() {
    setUp(10, 4, false, 64);
    Sequence a = seq("a", range(100, 13));
    Sequence b = seq("b", range(100, 13));
    scheduler.add(a);
    step();
    scheduler.add(b);
    step();
    assertEquals(List.of(1, 2, 3, 4), a.blocks().blocks());
    assertEquals(List.of(5, 6, 7, 8), b.blocks().blocks());
  }

  @Test
  void freedCachedBlocksAreEvictedLeastRecentlyUsedFirst() {
    setUp(6, 4, true, 64); // 5 usable blocks
    Sequence a = seq("a", range(100, 9)); // blocks 1, 2, 3; full blocks 1 and 2 are published
    scheduler.add(a);
    step();
    scheduler.remove(a); // released tail first: free queue 4, 5, 3, 2, 1
    Sequence b = seq("b", range(500, 13)); // 4 blocks: 4, 5, 3 and 2, evicting a's cached second block
    scheduler.add(b);
    step();
    assertEquals(List.of(4, 5, 3, 2), b.blocks().blocks());
    scheduler.remove(b); // free queue 1, 2, 3, 5, 4
    Sequence c = seq("c", range(100, 9)); // only a's first block is still cached
    scheduler.add(c);
    step();
    assertEquals(List.of(1, 2, 3), c.blocks().blocks());
    assertEquals(4, c.cachedPromptTokens().orElseThrow());
  }

  @Test
  void outOfBlocksPreemptsTheMostRecentRequest() {
    setUp(5, 4, false, 64); // 4 usable blocks
    Sequence a = seq("a", range(100, 7)); // 2 blocks
    Sequence b = seq("b", range(200, 7)); // 2 blocks
    scheduler.add(a);
    scheduler.add(b);
    step(); // both prefilled; a = [1, 2], b = [3, 4]; each now 8 tokens
    assertEquals(List.of(1, 2), a.blocks().blocks());
    assertEquals(List.of(3, 4), b.blocks().blocks());
    step(); // decode position 7 fits in each second block; each now 9 tokens
    Scheduler.Output out = step(); // a needs a third block: b is preempted, releasing 4 then 3
    assertEquals(List.of(b), out.preempted());
    assertEquals(List.of(1, 2, 4), a.blocks().blocks());
    assertEquals(0, b.numComputed());
    assertTrue(b.blocks().blocks().isEmpty());
    assertEquals(1, scheduler.numWaiting());
    assertEquals(1, scheduler.preemptions());
    scheduler.remove(a);
    step(); // b is recomputed from scratch: its 9 tokens in 3 blocks
    assertEquals(9, b.numComputed());
    assertEquals(3, b.blocks().blocks().size());
  }

  @Test
  void longPromptsArePrefilledInChunks() {
    setUp(20, 4, true, 8);
    Sequence a = seq("a", range(100, 19));
    scheduler.add(a);
    assertEquals(8, step().numTokens());
    assertEquals(8, step().numTokens());
    Scheduler.Output last = step();
    assertEquals(3, last.numTokens());
    assertEquals(20, a.numTokens()); // the last chunk sampled one token
  }
}

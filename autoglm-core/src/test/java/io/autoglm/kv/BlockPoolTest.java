package io.autoglm.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Ref counts, the free queue's order and the null block. */
class BlockPoolTest {
  @Test
  void nullBlockIsNeverHandedOut() {
    BlockPool pool = new BlockPool(4);
    assertEquals(List.of(1, 2, 3), pool.allocate(3).orElseThrow());
    assertTrue(pool.allocate(1).isEmpty());
    assertEquals(0, pool.numFreeBlocks());
  }

  @Test
  void releaseAppendsToTheTailAndSharedBlocksNeedEveryReference() {
    BlockPool pool = new BlockPool(5);
    List<Integer> got = pool.allocate(2).orElseThrow(); // 1, 2 ; free: 3, 4
    BlockPool.BlockKey key = new BlockPool.BlockKey(42, new int[] {1, 2});
    pool.cache(1, key);
    assertEquals(1, pool.lookup(key).orElseThrow()); // refCount(1) = 2
    pool.release(1);
    assertEquals(List.of(3, 4), pool.freeQueueSnapshot());
    pool.release(1);
    pool.release(2);
    assertEquals(List.of(3, 4, 1, 2), pool.freeQueueSnapshot());
    assertEquals(1, pool.lookup(key).orElseThrow()); // a free cached block is revived
    assertEquals(List.of(3, 4, 2), pool.freeQueueSnapshot());
    assertThrows(IllegalStateException.class, () -> pool.release(3));
    assertEquals(List.of(1, 2), got);
  }
}

package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** StepBatch.Sequence.blocksNeeded against the ceiling division it stands for, and its error on a short table. */
class StepBatchTest {
  @Test
  void blocksNeededIsTheContextRoundedUpToWholeBlocks() {
    for (int context = 1; context <= 70; context++) {
      StepBatch.Sequence s = new StepBatch.Sequence(0, 1, context, new int[5]);
      assertEquals((int) Math.ceil(context / 16.0), s.blocksNeeded(16), "context " + context);
    }
  }

  @Test
  void aBlockTableShorterThanTheContextIsRejectedWithTheNumbers() {
    StepBatch.Sequence s = new StepBatch.Sequence(7, 1, 33, new int[2]);
    var e = assertThrows(IllegalArgumentException.class, () -> s.blocksNeeded(16));
    assertEquals("sequence at token 7 has contextLen 33: needs 3 blocks of 16 tokens, its block table has 2",
        e.getMessage());
  }
}

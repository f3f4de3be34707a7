package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.autoglm.backend.StepBatch;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which sequences' rows the tensor-core prefill attention takes (cuda.prefillAttn); runs without a GPU. */
class PrefillSegmentsTest {
  /** A step of sequences with these query lengths, back to back from row 0 (positions at each context's end). */
  private static StepBatch step(int... queryLens) {
    int total = 0;
    for (int n : queryLens) {
      total += n;
    }
    List<StepBatch.Sequence> seqs = new ArrayList<>();
    int at = 0;
    for (int n : queryLens) {
      seqs.add(new StepBatch.Sequence(at, n, n + 7, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
      at += n;
    }
    return new StepBatch(new int[total], new int[total], new int[total], seqs);
  }

  @Test
  void sequencesOfAtLeastMinRowsQueryTokensAreTheSegmentsInStepOrder() {
    // rows: decode 0, prompt 1..20, chunk 21..36, short chunk 37..51, decode 52, prompt 53..152
    StepBatch b = step(1, 20, 16, 15, 1, 100);
    assertArrayEquals(new int[] {1, 20, 21, 16, 53, 100}, PrefillSegments.pairs(b, 16));
    assertArrayEquals(new int[] {1, 20, 53, 100}, PrefillSegments.pairs(b, 17));
    assertArrayEquals(new int[] {0, 1, 1, 20, 21, 16, 37, 15, 52, 1, 53, 100}, PrefillSegments.pairs(b, 1));
    assertArrayEquals(new int[0], PrefillSegments.pairs(b, 101));
  }

  @Test
  void aDecodeOnlyStepHasNone() {
    assertArrayEquals(new int[0], PrefillSegments.pairs(step(1, 1, 1, 1), 16));
  }

  @Test
  void graphStepsAndMinRowsZeroHaveNoneAndNoDeviceCopy() {
    StepBatch b = step(1, 20, 16);
    assertArrayEquals(new int[0], PrefillSegments.hostPairs(b, 16, true));
    assertArrayEquals(new int[0], PrefillSegments.hostPairs(b, 0, false));
    assertArrayEquals(new int[] {1, 20, 21, 16}, PrefillSegments.hostPairs(b, 16, false));
    assertSame(PrefillSegments.NONE, PrefillSegments.at(new int[0], 4096));
    PrefillSegments s = PrefillSegments.at(new int[] {1, 20}, 4096);
    assertArrayEquals(new int[] {1, 20}, s.host());
    assertEquals(4096, s.device());
  }

  /** The segments ride behind the token-to-table-row ints in one input: values, padding, then the tail. */
  @Test
  void inputIntsArePaddedThenFollowedByTheTail() {
    IntBuffer b = IntBuffer.allocate(9);
    StepMemory.putInts(b, new int[] {7, 8, 9}, 5, -1, new int[] {1, 20, 21, 16});
    assertArrayEquals(new int[] {7, 8, 9, -1, -1, 1, 20, 21, 16}, b.array());
    IntBuffer cut = IntBuffer.allocate(2);
    StepMemory.putInts(cut, new int[] {7, 8, 9}, 2, -1, new int[0]);
    assertArrayEquals(new int[] {7, 8}, cut.array());
    assertEquals(2, cut.position());
  }
}

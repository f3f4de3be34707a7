package io.autoglm.backend;

import java.util.List;

/**
 * The tokens of one forward step, for one or more sequences, laid out back to back. Each sequence contributes a
 * contiguous run of query tokens (a prefill chunk or one decode token) that attend to its whole context in the KV
 * cache, its new tokens included.
 *
 * @param tokenIds (T) token ids of all sequences, concatenated
 * @param positions (T) absolute position of each token in its sequence
 * @param slots (T) KV slot each token's K and V are written to
 * @param sequences the runs, in order: run i covers tokens [queryStart, queryStart + queryLen)
 */
public record StepBatch(int[] tokenIds, int[] positions, int[] slots, List<Sequence> sequences) {

  /**
   * @param contextLen tokens in the KV cache after this step, including the queryLen new ones
   * @param blockTable block ids holding the sequence's positions, in order
   */
  public record Sequence(int queryStart, int queryLen, int contextLen, int[] blockTable) {
    public Sequence {
      if (queryLen <= 0 || contextLen < queryLen) {
        throw new IllegalArgumentException(
            "sequence needs 0 < queryLen (" + queryLen + ") <= contextLen (" + contextLen + ")");
      }
    }

    /** The blocks of {@code blockSizeTokens} its context needs; throws when its block table is shorter. */
    public int blocksNeeded(int blockSizeTokens) {
      int blocks = (contextLen + blockSizeTokens - 1) / blockSizeTokens;
      if (blockTable.length < blocks) {
        throw new IllegalArgumentException(String.format(
            "sequence at token %d has contextLen %d: needs %d blocks of %d tokens, its block table has %d",
            queryStart, contextLen, blocks, blockSizeTokens, blockTable.length));
      }
      return blocks;
    }
  }

  /**
   * A step of one sequence: {@code tokens[start, start + n)} at positions {@code start..start + n - 1}, with slots
   * from {@code blockTable} in blocks of {@code blockSize} tokens (a prefill chunk, or a decode step when n is 1).
   */
  public static StepBatch ofOneSequence(int[] tokens, int start, int n, int[] blockTable, int blockSize) {
    int[] ids = new int[n];
    int[] pos = new int[n];
    int[] slots = new int[n];
    for (int j = 0; j < n; j++) {
      ids[j] = tokens[start + j];
      pos[j] = start + j;
      slots[j] = blockTable[pos[j] / blockSize] * blockSize + pos[j] % blockSize;
    }
    return new StepBatch(ids, pos, slots, List.of(new Sequence(0, n, start + n, blockTable)));
  }

  public StepBatch {
    if (tokenIds.length != positions.length || tokenIds.length != slots.length) {
      throw new IllegalArgumentException(String.format(
          "tokenIds (%d), positions (%d) and slots (%d) must have the same length",
          tokenIds.length, positions.length, slots.length));
    }
    sequences = List.copyOf(sequences);
    int next = 0;
    for (Sequence s : sequences) {
      if (s.queryStart() != next) {
        throw new IllegalArgumentException("sequence runs must be contiguous: expected start " + next
            + ", got " + s.queryStart());
      }
      next += s.queryLen();
    }
    if (next != tokenIds.length) {
      throw new IllegalArgumentException("sequence runs cover " + next + " tokens, batch has " + tokenIds.length);
    }
  }

  public int numTokens() {
    return tokenIds.length;
  }
}

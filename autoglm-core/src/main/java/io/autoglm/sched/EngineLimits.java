package io.autoglm.sched;

/**
 * The sizes an engine runs with.
 *
 * @param numBlocks KV blocks, the null block 0 included
 * @param maxModelLen tokens of one sequence (prompt + output) at most
 * @param vocabLimit ids at or above it are never sampled (the tokenizer has no text for them)
 */
public record EngineLimits(int numBlocks, int blockSizeTokens, boolean prefixCaching, int maxRunningSequences,
    int maxBatchTokens, int maxWaitingRequests, int maxModelLen, int vocabLimit) {
  public EngineLimits {
    if (numBlocks < 2) {
      throw new IllegalArgumentException("numBlocks (" + numBlocks + ") must be >= 2 (block 0 is reserved)");
    }
    if (maxModelLen < 1 || maxWaitingRequests < 1 || vocabLimit < 1) {
      throw new IllegalArgumentException(String.format("maxModelLen (%d), maxWaitingRequests (%d) and vocabLimit"
          + " (%d) must be >= 1", maxModelLen, maxWaitingRequests, vocabLimit));
    }
  }
}

package io.autoglm.sched;

/**
 * Limits of one scheduling step.
 *
 * @param maxRunningSequences sequences in one step at most
 * @param maxBatchTokens tokens in one step at most; longer prompts are prefilled in chunks of at most this
 */
public record SchedulerConfig(int maxRunningSequences, int maxBatchTokens) {
  public SchedulerConfig {
    if (maxRunningSequences < 1) {
      throw new IllegalArgumentException("maxRunningSequences (" + maxRunningSequences + ") must be >= 1");
    }
    if (maxBatchTokens < 1) {
      throw new IllegalArgumentException("maxBatchTokens (" + maxBatchTokens + ") must be >= 1");
    }
  }
}

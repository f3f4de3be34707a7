package io.autoglm;

/**
 * A snapshot of the engine.
 *
 * @param kvUsage share of KV blocks in use, in [0, 1]
 * @param steps forward steps run so far
 */
public record EngineStats(int running, int waiting, double kvUsage, int kvBlocks, int kvBlockSizeTokens,
    int maxModelLen, long steps, long preemptions) {}

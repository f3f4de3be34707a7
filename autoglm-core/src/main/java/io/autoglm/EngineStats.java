package io.autoglm;

/**
 * A snapshot of the engine.
 *
 * @param kvUsage share of KV blocks in use, in [0, 1]
 * @param steps forward steps run so far
 * @param stepNanos time of all steps, scheduling and bookkeeping included
 * @param forwardNanos of which inside the backend (forward pass and sampling)
 */
public record EngineStats(int running, int waiting, double kvUsage, int kvBlocks, int kvBlockSizeTokens,
    int maxModelLen, long steps, long preemptions, long stepNanos, long forwardNanos) {}

package io.autoglm;

/**
 * One generated token as it streams.
 *
 * @param index 0 for the first generated token
 * @param tokenId the generated id; -1 for a last event that only releases text held back at the end
 * @param text the new text this token completes (text requests; empty while a multi-byte character or a possible
 *     stop string is still pending, and for token-id requests)
 */
public record TokenEvent(int index, int tokenId, String text) {}

package io.autoglm.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;

/**
 * Turns generated ids into text one id at a time, emitting only complete UTF-8: the bytes of a character split
 * across tokens are held until its last byte arrives. The concatenation of everything {@link #add} and
 * {@link #finish} return equals the tokenizer's {@code decode} of all ids (invalid bytes become U+FFFD there too, and
 * only there). Not thread-safe: one per sequence.
 */
public final class IncrementalDetokenizer {
  private final IntFunction<byte[]> bytesOf;
  private final IntPredicate skipped;
  private byte[] pending = new byte[16]; // bytes not yet emitted: at most one incomplete character
  private int pendingSize;

  IncrementalDetokenizer(IntFunction<byte[]> bytesOf, IntPredicate skipped) {
    this.bytesOf = bytesOf;
    this.skipped = skipped;
  }

  /** Adds one id and returns the text it completes, possibly empty. */
  public String add(int id) {
    byte[] bytes = bytesOf.apply(id);
    if (skipped.test(id) || bytes.length == 0) {
      return "";
    }
    if (pendingSize + bytes.length > pending.length) {
      pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingSize + bytes.length));
    }
    System.arraycopy(bytes, 0, pending, pendingSize, bytes.length);
    pendingSize += bytes.length;
    int complete = completePrefix(pending, pendingSize);
    String text = new String(pending, 0, complete, StandardCharsets.UTF_8);
    System.arraycopy(pending, complete, pending, 0, pendingSize - complete);
    pendingSize -= complete;
    return text;
  }

  /** Ends the stream: returns the held bytes, an unfinished character as U+FFFD (as a full decode gives it). */
  public String finish() {
    String text = new String(pending, 0, pendingSize, StandardCharsets.UTF_8);
    pendingSize = 0;
    return text;
  }

  /** True when bytes are held back waiting for the rest of a character. */
  public boolean hasPending() {
    return pendingSize > 0;
  }

  /**
   * Length of the longest prefix that can be decoded now: everything, unless the buffer ends inside a character
   * whose lead byte promises more bytes. Cutting just before a lead byte never changes a lossy decode, since a lead
   * byte always starts a new sequence.
   */
  static int completePrefix(byte[] b, int size) {
    for (int i = size - 1; i >= Math.max(0, size - 4); i--) {
      int v = b[i] & 0xFF;
      if ((v & 0xC0) != 0x80) { // lead or ASCII byte
        int need = v >= 0xF5 ? 1 : v >= 0xF0 ? 4 : v >= 0xE0 ? 3 : v >= 0xC2 ? 2 : 1;
        return size - i < need ? i : size;
      }
    }
    return size;
  }
}

package io.autoglm.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-level alphabet: every byte maps to one printable code point ({@code bytes_to_unicode}), so a BPE
 * vocabulary of byte strings can be stored as text. Printable Latin-1 bytes map to themselves; the other 68 bytes
 * map to U+0100 and up, in byte order.
 */
final class ByteLevel {
  /** byte value → code point. */
  private static final char[] BYTE_TO_CHAR = new char[256];
  /** code point → byte value, or -1; code points above U+0143 never occur. */
  private static final int[] CHAR_TO_BYTE = new int[0x144];

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char c = (char) (printable ? b : next++);
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private ByteLevel() {}

  /** The byte-level text of {@code bytes}. */
  static String encode(byte[] bytes) {
    StringBuilder sb = new StringBuilder(bytes.length);
    for (byte b : bytes) {
      sb.append(BYTE_TO_CHAR[b & 0xFF]);
    }
    return sb.toString();
  }

  /**
   * The bytes a token stands for, as the tokenizers ByteLevel decoder computes them: each char through the byte
   * table, or the token's UTF-8 when any char is outside the alphabet (added tokens such as {@code <|user|>} happen
   * to be inside it, and give their own UTF-8 either way).
   */
  static byte[] decodeToken(String token) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(token.length());
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
      if (b < 0) {
        return token.getBytes(StandardCharsets.UTF_8);
      }
      out.write(b);
    }
    return out.toByteArray();
  }
}

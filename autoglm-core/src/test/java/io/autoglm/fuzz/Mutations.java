package io.autoglm.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Damages a valid safetensors file the ways a bad download, a bad tool or an attacker would. Kinds: 0 bit flips, 1
 * truncation, 2 an edited length field, 3 a JSON token replaced with the length field kept right, 4 the same with the
 * length field left stale, 5 trailing bytes, 6 a duplicated header entry, 7 two or three of these.
 */
public final class Mutations {
  private Mutations() {}

  public static byte[] apply(byte[] file, int kind, SplittableRandom r, List<String> tokens) {
    if (file.length < 8) {
      return kind == 0 || kind == 5 ? apply8(file, kind, r) : file;
    }
    return switch (kind) {
      case 0 -> flipBits(file, r);
      case 1 -> Arrays.copyOf(file, r.nextInt(file.length));
      case 2 -> withLength(file, lengthEdit(headerLength(file), r));
      case 3 -> editHeader(file, r, tokens, true);
      case 4 -> editHeader(file, r, tokens, false);
      case 5 -> appendBytes(file, r);
      case 6 -> duplicateEntry(file);
      default -> {
        byte[] out = file;
        for (int i = 0, n = 2 + r.nextInt(2); i < n; i++) {
          out = apply(out, r.nextInt(7), r, tokens);
        }
        yield out;
      }
    };
  }

  private static byte[] apply8(byte[] file, int kind, SplittableRandom r) {
    return kind == 0 ? flipBits(file, r) : appendBytes(file, r);
  }

  private static byte[] flipBits(byte[] file, SplittableRandom r) {
    byte[] out = file.clone();
    for (int i = 0, n = 1 + r.nextInt(8); i < n && out.length > 0; i++) {
      int pos = r.nextInt(out.length);
      out[pos] ^= (byte) (1 << r.nextInt(8));
    }
    return out;
  }

  private static long lengthEdit(long len, SplittableRandom r) {
    return switch (r.nextInt(6)) {
      case 0 -> len + 1 + r.nextInt(8);
      case 1 -> len - 1 - r.nextInt(8);
      case 2 -> r.nextLong();
      case 3 -> -1;
      case 4 -> 100_000_001L;
      default -> r.nextInt(3);
    };
  }

  private static long headerLength(byte[] file) {
    return ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }

  /** The length field clamped to the bytes there are, for mutations of an already damaged file. */
  private static int headerBytes(byte[] file) {
    return (int) Math.max(0, Math.min(headerLength(file), file.length - 8));
  }

  private static byte[] withLength(byte[] file, long length) {
    byte[] out = file.clone();
    ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
    return out;
  }

  private static String header(byte[] file) {
    return new String(file, 8, headerBytes(file), StandardCharsets.UTF_8);
  }

  private static byte[] data(byte[] file) {
    return Arrays.copyOfRange(file, 8 + headerBytes(file), file.length);
  }

  private static byte[] assemble(byte[] header, long lengthField, byte[] data) {
    return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
        .putLong(lengthField).put(header).put(data).array();
  }

  /** Replaces a random span of the header (up to 6 chars) with a token. */
  private static byte[] editHeader(byte[] file, SplittableRandom r, List<String> tokens, boolean fixLength) {
    String h = header(file);
    int at = r.nextInt(h.length() + 1);
    int end = Math.min(h.length(), at + r.nextInt(7));
    String edited = h.substring(0, at) + tokens.get(r.nextInt(tokens.size())) + h.substring(end);
    byte[] bytes = edited.getBytes(StandardCharsets.UTF_8);
    return assemble(bytes, fixLength ? bytes.length : headerLength(file), data(file));
  }

  private static byte[] appendBytes(byte[] file, SplittableRandom r) {
    byte[] out = Arrays.copyOf(file, file.length + 1 + r.nextInt(16));
    for (int i = file.length; i < out.length; i++) {
      out[i] = (byte) r.nextInt(256);
    }
    return out;
  }

  /** Writes the first entry twice (entries hold no nested object, so it ends at the first '}'). */
  private static byte[] duplicateEntry(byte[] file) {
    String h = header(file).stripTrailing();
    int close = h.indexOf('}');
    if (h.length() < 3 || close < 0 || close == h.length() - 1) {
      return file;
    }
    String entry = h.substring(1, close + 1);
    byte[] bytes = ("{" + entry + "," + h.substring(1)).getBytes(StandardCharsets.UTF_8);
    return assemble(bytes, bytes.length, data(file));
  }
}

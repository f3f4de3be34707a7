package io.autoglm.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.SafetensorsFile;
import io.autoglm.safetensors.SafetensorsHeader;
import io.autoglm.safetensors.TensorSlice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the safetensors header parser ({@link SafetensorsFile#open}) with arbitrary bytes, with JSON-like headers
 * behind a correct length prefix, and with valid files mutated as a damaged or hostile download would be (bit flips,
 * truncation, length-field edits, JSON token edits, duplicated entries, trailing bytes). Only ModelLoadException may
 * escape, never a hang; a file that opens satisfies the reference library's invariant (its tensors cover the data
 * section exactly); a valid file round-trips. Each property prints its input count ("FUZZ ...").
 */
class SafetensorsHeaderFuzzTest {
  @TempDir Path dir;

  private static final List<String> TOKENS = List.of("\"x\"", "\"\"", "-1", "-0", "0", "1", "0.5", "1e3", "1E+2",
      "null", "true", "false", "[]", "{}", "[[]]", "\"", ",", ":", "{", "}", "[", "]", "99999999999999999999",
      "9223372036854775807", "4611686018427387904", "18446744073709551616", "\"__metadata__\"", "\"\\ud800\"",
      "\"\\u0000\"", "\\", "\"F32\"", "\"BF16\"", "\"F8_E4M3\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\u0000",
      "\n", "é", " ", "", "{\"a\":\"b\"}", "[0,0]", "[1,2,3]");
  private static final String NAME_CHARS = " !#$%&()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~é中ß\"\\";
  private static final String JSON_CHARS = "{}[]\":,.-+eE0123456789 ntrufalsFB_dyphoi\\\u0000";

  @Test
  void arbitraryBytes() {
    Fuzz.forAll("safetensors arbitrary bytes", 5000, r -> Fuzz.bytes(r, 400), this::open);
  }

  @Test
  void jsonLikeHeadersBehindAValidLength() {
    Fuzz.forAll("safetensors JSON-like headers", 5000, r -> {
      String header = switch (r.nextInt(3)) {
        case 0 -> Fuzz.chars(r, JSON_CHARS, 120);
        case 1 -> tokens(r);
        default -> "{" + tokens(r) + "}";
      };
      byte[] h = header.getBytes(StandardCharsets.UTF_8);
      byte[] data = Fuzz.bytes(r, 64);
      int skew = r.nextInt(5) - 2;
      return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
          .putLong(h.length + (skew == 2 ? 0 : skew)).put(h).put(data).array();
    }, this::open);
  }

  @Test
  void mutatedValidFiles() {
    Fuzz.forAll("safetensors mutated valid files", 5000,
        r -> Mutations.apply(encode(tensors(r), r), r.nextInt(8), r, TOKENS), this::open);
  }

  @Test
  void validFilesRoundTrip() {
    Fuzz.forAll("safetensors valid round trip", 1000, r -> {
      List<SafetensorsHeader.Entry> tensors = tensors(r);
      return new Valid(tensors, encode(tensors, r));
    }, (h, v) -> roundTrip(h, v.tensors(), v.bytes()));
  }

  /** A valid file and the tensors it was written from. */
  private record Valid(List<SafetensorsHeader.Entry> tensors, byte[] bytes) {}

  private void roundTrip(FuzzHarness h, List<SafetensorsHeader.Entry> tensors, byte[] bytes) throws IOException {
    Path file = dir.resolve("roundtrip.safetensors");
    Files.write(file, bytes);
    FuzzHarness.Outcome o = h.run(() -> {
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        long offset = bytes.length - SafetensorsHeader.dataBytes(tensors);
        assertEquals(tensors.size(), f.tensorNames().size());
        for (SafetensorsHeader.Entry e : tensors) {
          ByteBuffer data = f.map(e.name());
          if (e.dtype().isFp8()) { // its scale lies in another tensor: only Checkpoint maps it whole
            assertThrows(ModelLoadException.class, () -> f.tensor(e.name()));
          } else {
            TensorSlice t = f.tensor(e.name());
            assertEquals(e.dtype(), t.dtype());
            assertArrayEquals(e.shape(), t.shape());
          }
          byte[] got = new byte[data.remaining()];
          data.duplicate().get(got);
          assertArrayEquals(Arrays.copyOfRange(bytes, (int) offset, (int) (offset + e.bytes())), got, e.name());
          offset += e.bytes();
        }
      }
      return null;
    }, () -> FuzzHarness.hex(bytes));
    assertEquals(FuzzHarness.Outcome.ACCEPTED, o, "a valid file was refused: " + FuzzHarness.hex(bytes));
  }

  /** Opens the bytes as a file; when it opens, its tensors must tile the data section (the reference's rule). */
  private void open(FuzzHarness h, byte[] bytes) throws IOException {
    Path file = dir.resolve("input.safetensors");
    Files.write(file, bytes);
    h.run(() -> {
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long covered = 0;
        for (String n : f.tensorNames()) {
          covered += f.map(n).capacity();
        }
        assertEquals(bytes.length - 8 - headerLen, covered, "tensors must cover the data section exactly");
      }
      return null;
    }, () -> FuzzHarness.hex(bytes));
  }

  private static String tokens(SplittableRandom r) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0, n = r.nextInt(31); i < n; i++) {
      sb.append(Fuzz.pick(r, TOKENS));
    }
    return sb.toString();
  }

  /** Up to 5 tensors with distinct names, any dtype, shapes of up to 3 dims of 0..6. */
  private static List<SafetensorsHeader.Entry> tensors(SplittableRandom r) {
    List<SafetensorsHeader.Entry> out = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0, n = r.nextInt(6); i < n; i++) {
      String name = Fuzz.chars(r, NAME_CHARS, 15) + (char) ('a' + r.nextInt(26));
      long[] shape = new long[r.nextInt(4)];
      for (int d = 0; d < shape.length; d++) {
        shape[d] = r.nextInt(7);
      }
      if (names.add(name) && !name.equals("__metadata__")) {
        out.add(new SafetensorsHeader.Entry(name, DType.values()[r.nextInt(DType.values().length)], shape));
      }
    }
    return out;
  }

  private static byte[] encode(List<SafetensorsHeader.Entry> tensors, SplittableRandom r) {
    ByteBuffer head = SafetensorsHeader.encode(tensors);
    byte[] bytes = new byte[head.remaining() + (int) SafetensorsHeader.dataBytes(tensors)];
    int headLen = head.remaining();
    head.get(bytes, 0, headLen);
    for (int i = headLen; i < bytes.length; i++) {
      bytes[i] = (byte) r.nextInt(256);
    }
    return bytes;
  }
}

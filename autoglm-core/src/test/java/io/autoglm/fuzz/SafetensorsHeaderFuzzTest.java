package io.autoglm.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzes the safetensors header parser ({@link SafetensorsFile#open}) with arbitrary bytes, with JSON-like headers
 * behind a correct length prefix, and with valid files mutated as a damaged or hostile download would be (bit flips,
 * truncation, length-field edits, JSON token edits, duplicated entries, trailing bytes). Only ModelLoadException may
 * escape, never a hang; a file that opens satisfies the reference library's invariant (its tensors cover the data
 * section exactly); a valid file round-trips. Each property prints its input count ("FUZZ ...").
 */
class SafetensorsHeaderFuzzTest {
  private static final Map<String, FuzzHarness> HARNESSES = new ConcurrentHashMap<>();
  private static Path dir;

  private static final List<String> TOKENS = List.of("\"x\"", "\"\"", "-1", "-0", "0", "1", "0.5", "1e3", "1E+2",
      "null", "true", "false", "[]", "{}", "[[]]", "\"", ",", ":", "{", "}", "[", "]", "99999999999999999999",
      "9223372036854775807", "4611686018427387904", "18446744073709551616", "\"__metadata__\"", "\"\\ud800\"",
      "\"\\u0000\"", "\\", "\"F32\"", "\"BF16\"", "\"F8_E4M3\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\u0000",
      "\n", "é", " ", "", "{\"a\":\"b\"}", "[0,0]", "[1,2,3]");

  @BeforeContainer
  static void createDir() throws IOException {
    dir = Files.createTempDirectory("safetensors-fuzz");
  }

  /** Prints the property's count into its own test output, where the surefire report keeps it. */
  @AfterProperty
  void report() {
    HARNESSES.values().forEach(h -> {
      System.out.println(h.summary());
      h.close();
    });
    HARNESSES.clear();
  }

  @AfterContainer
  static void deleteDir() throws IOException {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }

  private static FuzzHarness harness(String name) {
    return HARNESSES.computeIfAbsent(name, FuzzHarness::new);
  }

  @Property(tries = 2000)
  void arbitraryBytes(@ForAll @Size(max = 400) byte[] bytes) throws IOException {
    open(harness("safetensors arbitrary bytes"), bytes);
  }

  @Property(tries = 2000)
  void jsonLikeHeaderBehindAValidLength(@ForAll("jsonLike") String header, @ForAll @Size(max = 64) byte[] data,
      @ForAll @IntRange(min = -2, max = 2) int lengthSkew) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length + (lengthSkew == 2 ? 0 : lengthSkew)).put(h).put(data);
    open(harness("safetensors JSON-like headers"), b.array());
  }

  @Property(tries = 3000)
  void mutatedValidFiles(@ForAll("tensorLists") List<SafetensorsHeader.Entry> tensors,
      @ForAll @IntRange(min = 0, max = 7) int mutation, @ForAll long seed) throws IOException {
    byte[] valid = encode(tensors, seed);
    byte[] bytes = Mutations.apply(valid, mutation, new SplittableRandom(seed), TOKENS);
    open(harness("safetensors mutated valid files"), bytes);
  }

  @Property(tries = 500)
  void validFilesRoundTrip(@ForAll("tensorLists") List<SafetensorsHeader.Entry> tensors, @ForAll long seed)
      throws IOException {
    byte[] bytes = encode(tensors, seed);
    Path file = dir.resolve("roundtrip.safetensors");
    Files.write(file, bytes);
    FuzzHarness.Outcome o = harness("safetensors valid round trip").run(() -> {
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        long offset = bytes.length - SafetensorsHeader.dataBytes(tensors);
        assertEquals(tensors.size(), f.tensorNames().size());
        for (SafetensorsHeader.Entry e : tensors) {
          TensorSlice t = f.tensor(e.name());
          assertEquals(e.dtype(), t.dtype());
          assertArrayEquals(e.shape(), t.shape());
          byte[] got = new byte[t.data().remaining()];
          t.data().duplicate().get(got);
          assertArrayEquals(Arrays.copyOfRange(bytes, (int) offset, (int) (offset + e.bytes())), got, e.name());
          offset += e.bytes();
        }
      }
      return null;
    }, () -> FuzzHarness.hex(bytes));
    assertEquals(FuzzHarness.Outcome.ACCEPTED, o, "a valid file was refused: " + FuzzHarness.hex(bytes));
  }

  /** Opens the bytes as a file; when it opens, its tensors must tile the data section (the reference's rule). */
  private static void open(FuzzHarness h, byte[] bytes) throws IOException {
    Path file = dir.resolve("input.safetensors");
    Files.write(file, bytes);
    h.run(() -> {
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long covered = 0;
        for (String n : f.tensorNames()) {
          covered += f.tensor(n).data().capacity();
        }
        assertEquals(bytes.length - 8 - headerLen, covered, "tensors must cover the data section exactly");
      }
      return null;
    }, () -> FuzzHarness.hex(bytes));
  }

  private static byte[] encode(List<SafetensorsHeader.Entry> tensors, long seed) {
    ByteBuffer head = SafetensorsHeader.encode(tensors);
    byte[] bytes = new byte[head.remaining() + (int) SafetensorsHeader.dataBytes(tensors)];
    int headLen = head.remaining();
    head.get(bytes, 0, headLen);
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = headLen; i < bytes.length; i++) {
      bytes[i] = (byte) r.nextInt(256);
    }
    return bytes;
  }

  @Provide
  Arbitrary<List<SafetensorsHeader.Entry>> tensorLists() {
    Arbitrary<String> names = Arbitraries.strings().withCharRange(' ', '~').withChars('é', '中', 'ß')
        .ofMinLength(1).ofMaxLength(16).filter(n -> !n.equals("__metadata__"));
    Arbitrary<long[]> shapes = Arbitraries.longs().between(0, 6).list().ofMaxSize(3)
        .map(l -> l.stream().mapToLong(Long::longValue).toArray());
    Arbitrary<SafetensorsHeader.Entry> entry = Combinators.combine(names, Arbitraries.of(DType.class), shapes)
        .as(SafetensorsHeader.Entry::new);
    return entry.list().ofMaxSize(5).uniqueElements(SafetensorsHeader.Entry::name);
  }

  @Provide
  Arbitrary<String> jsonLike() {
    Arbitrary<String> chars = Arbitraries.strings().withChars("{}[]\":,.-+eE0123456789 ntrufalsFB_dyphoi\\\u0000")
        .ofMaxLength(120);
    Arbitrary<String> tokens = Arbitraries.of(TOKENS).list().ofMaxSize(30).map(l -> String.join("", l));
    return Arbitraries.oneOf(chars, tokens, tokens.map(t -> "{" + t + "}"));
  }
}

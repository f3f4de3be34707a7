package io.autoglm.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The header is validated as strictly as the reference safetensors library validates it (MetadataIncompleteBuffer,
 * InvalidOffset, ValidationOverflow, usize offsets and shapes, a JSON object of objects, string metadata), plus no
 * duplicate keys: each mutated header is a ModelLoadException naming the file, the tensor and expected against actual.
 */
class SafetensorsHeaderRulesTest {
  @TempDir Path dir;

  private static byte[] file(String header, int dataBytes) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  private Path write(String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  private ModelLoadException fails(Path p) {
    return assertThrows(ModelLoadException.class, () -> SafetensorsFile.open(p).close());
  }

  private ModelLoadException failsWith(String header, int dataBytes, String expected) throws IOException {
    ModelLoadException e = fails(write("bad.safetensors", file(header, dataBytes)));
    assertTrue(e.getMessage().contains(expected) && e.getMessage().contains("bad.safetensors"), e.getMessage());
    return e;
  }

  private static String w(String dtype, String shape, String offsets) {
    return "\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets;
  }

  /** A header one byte shorter (120 → 119) leaves its last pad byte as data: the reference's "not fully covered". */
  @Test
  void headerLengthOneByteShortLeavesUncoveredData() throws IOException {
    String header = "{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + "}}  ";
    byte[] bytes = file(header, 8);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length() - 1);
    ModelLoadException e = fails(write("short.safetensors", bytes));
    assertTrue(e.getMessage().contains("short.safetensors") && e.getMessage().contains("not fully covered")
        && e.getMessage().contains("holds 9 bytes") && e.getMessage().contains("1 trailing bytes"), e.getMessage());
  }

  /** One byte longer, the header swallows the first data byte: no longer JSON, or the last tensor is cut. */
  @Test
  void headerLengthOneByteLongIsRefused() throws IOException {
    String header = "{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + "}}";
    byte[] bytes = file(header, 8);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length() + 1);
    assertTrue(fails(write("long.safetensors", bytes)).getMessage().contains("header is not valid JSON"));
    bytes[8 + header.length()] = ' ';
    ModelLoadException e = fails(write("long2.safetensors", bytes));
    assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("outside the data section of 7 bytes"),
        e.getMessage());
  }

  @Test
  void trailingBytesAfterTheLastTensor() throws IOException {
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + "}}", 13,
        "the data section is not fully covered: it holds 13 bytes, the tensors end at byte 8, leaving 5 trailing");
  }

  @Test
  void gapsInTheDataSection() throws IOException {
    failsWith("{\"a\":{" + w("\"F32\"", "[2]", "[0,8]") + "},\"b\":{" + w("\"F32\"", "[2]", "[16,24]") + "}}",
        24, "bytes [8, 16) of the data section belong to no tensor (between a and tensor b [16, 24))");
    failsWith("{\"a\":{" + w("\"F32\"", "[2]", "[8,16]") + "}}", 16,
        "bytes [0, 8) of the data section belong to no tensor (before tensor a [8, 16))");
  }

  /** Offsets and shapes are non-negative integer literals, as the reference's usize fields are. */
  @Test
  void offsetsAndShapesMustBeIntegers() throws IOException {
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[\"0\",\"8\"]") + "}}", 8,
        "tensor w: data_offsets[0] must be a non-negative integer, got \"0\"");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8.0]") + "}}", 8,
        "tensor w: data_offsets[1] (8.0) must be a non-negative integer");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,0.8e1]") + "}}", 8,
        "tensor w: data_offsets[1] (0.8e1) must be a non-negative integer");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[-8,0]") + "}}", 8,
        "tensor w: data_offsets[0] (-8) must be a non-negative integer");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "null") + "}}", 8,
        "tensor w: data_offsets must be an array of non-negative integers, got null");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0]") + "}}", 8, "tensor w: data_offsets must be [start, end], got [0]");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8,8]") + "}}", 8, "data_offsets must be [start, end], got [0, 8, 8]");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,99999999999999999999]") + "}}", 8,
        "tensor w: data_offsets[1] (99999999999999999999) exceeds 9223372036854775807");
    failsWith("{\"w\":{" + w("\"F32\"", "[\"2\"]", "[0,8]") + "}}", 8,
        "tensor w: shape[0] must be a non-negative integer, got \"2\"");
    failsWith("{\"w\":{" + w("\"F32\"", "[2.5]", "[0,8]") + "}}", 8, "tensor w: shape[0] (2.5) must be a non-negative integer");
    failsWith("{\"w\":{" + w("\"F32\"", "\"2\"", "[0,8]") + "}}", 8,
        "tensor w: shape must be an array of non-negative integers, got \"2\"");
    failsWith("{\"w\":{" + w("7", "[2]", "[0,8]") + "}}", 8, "tensor w: dtype must be a string, got 7");
  }

  @Test
  void elementAndByteCountOverflowNameTheShape() throws IOException {
    failsWith("{\"w\":{" + w("\"F32\"", "[4611686018427387904,4]", "[0,8]") + "}}", 8,
        "tensor w: the element count of shape [4611686018427387904, 4] overflows a 64-bit integer");
    failsWith("{\"w\":{" + w("\"F32\"", "[4611686018427387904]", "[0,8]") + "}}", 8,
        "tensor w: the byte count of shape [4611686018427387904] × 4 bytes (F32) overflows a 64-bit integer");
  }

  @Test
  void duplicateKeysAreRefused() throws IOException {
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + "},\"w\":{" + w("\"F32\"", "[2]", "[8,16]") + "}}", 16,
        "tensor w appears twice in the header");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + ",\"dtype\":\"F16\"}}", 8, "tensor w: field dtype appears twice");
  }

  @Test
  void headerMustBeAnObjectOfObjects() throws IOException {
    failsWith("[1, 2]", 0, "header must be a JSON object of tensor entries, got an array");
    failsWith("{\"w\": 5}", 0, "tensor w: header entry must be an object {dtype, shape, data_offsets}, got 5");
    failsWith("{\"w\": {\"dtype\": \"F32\"}}", 0, "tensor w: header entry needs dtype, shape and data_offsets; "
        + "missing [shape, data_offsets]");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + "}} x", 8, "header is not valid JSON");
    failsWith("{\"w\":{" + w("\"F32\"", "[2]", "[0,8]") + "}, }", 8, "header is not valid JSON");
    failsWith("{w:{" + w("\"F32\"", "[2]", "[0,8]") + "}}", 8, "header is not valid JSON");
  }

  @Test
  void metadataMustMapStringsToStrings() throws IOException {
    failsWith("{\"__metadata__\":{\"format\":1}}", 0, "__metadata__.format must be a string, got 1");
    failsWith("{\"__metadata__\":[\"pt\"]}", 0, "__metadata__ must be an object of strings or null, got an array");
    Path ok = write("meta.safetensors", file("{\"__metadata__\":null,\"w\":{" + w("\"F32\"", "[2]", "[0,8]")
        + ",\"extra\":[1]}}", 8));
    try (SafetensorsFile f = SafetensorsFile.open(ok)) { // null metadata and unknown entry fields: as the reference
      assertEquals(Set.of("w"), f.tensorNames());
      assertTrue(f.metadata().isEmpty());
    }
  }

  @Test
  void headerMustBeValidUnicode() throws IOException {
    byte[] bytes = file("{\"w?\":{" + w("\"F32\"", "[2]", "[0,8]") + "}}", 8);
    bytes[8 + 3] = (byte) 0xff;
    ModelLoadException e = fails(write("utf8.safetensors", bytes));
    assertTrue(e.getMessage().contains("header is not valid UTF-8 (bad byte at header offset 3)"), e.getMessage());
    failsWith("{\"w\\ud800\":{" + w("\"F32\"", "[2]", "[0,8]") + "}}", 8, "unpaired surrogate \\ud800");
  }

  @Test
  void validFileRoundTrips() throws IOException {
    List<SafetensorsHeader.Entry> entries = List.of(
        new SafetensorsHeader.Entry("a", DType.F32, new long[] {2, 3}),
        new SafetensorsHeader.Entry("b", DType.BF16, new long[] {5}),
        new SafetensorsHeader.Entry("empty", DType.F16, new long[] {0, 4}),
        new SafetensorsHeader.Entry("c", DType.I64, new long[] {}));
    ByteBuffer head = SafetensorsHeader.encode(entries);
    byte[] bytes = new byte[head.remaining() + (int) SafetensorsHeader.dataBytes(entries)];
    head.get(bytes, 0, head.remaining());
    for (int i = head.limit(); i < bytes.length; i++) {
      bytes[i] = (byte) i;
    }
    try (SafetensorsFile f = SafetensorsFile.open(write("ok.safetensors", bytes))) {
      long offset = head.limit();
      for (SafetensorsHeader.Entry e : entries) {
        TensorSlice t = f.tensor(e.name());
        assertEquals(e.dtype(), t.dtype());
        assertArrayEquals(e.shape(), t.shape());
        byte[] data = new byte[t.data().remaining()];
        t.data().duplicate().get(data);
        assertArrayEquals(
            Arrays.copyOfRange(bytes, (int) offset, (int) (offset + e.bytes())), data, e.name());
        offset += e.bytes();
      }
    }
  }
}

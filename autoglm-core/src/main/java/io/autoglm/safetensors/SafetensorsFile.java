package io.autoglm.safetensors;

import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file, validated on open as strictly as the reference (Rust) safetensors library, and memory-mapped
 * per tensor on demand.
 *
 * <p>Invariants after {@link #open}: the header is valid UTF-8 and valid JSON ({@link HeaderParser}); every tensor
 * has a known dtype and a byte count equal to element count × dtype size (computed without overflow); sorted by
 * offset, the tensors cover the data section exactly — contiguous from byte 0, no gap, no overlap, ending at the end
 * of the file (the reference's {@code InvalidOffset} and {@code MetadataIncompleteBuffer}). A bad file is a
 * {@link ModelLoadException} naming the file, the tensor and the expected against the actual value, never a crash
 * or a silently shifted tensor.
 */
public final class SafetensorsFile implements AutoCloseable {
  /** Upper bound on the JSON header, the reference's {@code MAX_HEADER_SIZE}. */
  public static final long MAX_HEADER_BYTES = 100_000_000L;

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, HeaderParser.Tensor> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path file, FileChannel channel, long dataStart, Map<String, HeaderParser.Tensor> entries,
      Map<String, String> metadata) {
    this.file = file;
    this.channel = channel;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
  }

  public static SafetensorsFile open(Path file) {
    FileChannel channel;
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new ModelLoadException("cannot open safetensors file " + file + ": " + e, e);
    }
    try {
      return parse(file, channel);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    }
  }

  private static SafetensorsFile parse(Path file, FileChannel channel) {
    String where = "safetensors file " + file;
    try {
      long size = channel.size();
      if (size < 8) {
        throw new ModelLoadException(String.format(
            "%s is truncated: %d bytes, expected at least 8 for the header length", where, size));
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, lenBuf, 0);
      long headerLen = lenBuf.getLong(0);
      if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
        throw new ModelLoadException(String.format("%s: header length %s bytes is outside the sane range [2, %d]",
            where, Long.toUnsignedString(headerLen), MAX_HEADER_BYTES));
      }
      if (8 + headerLen > size) {
        throw new ModelLoadException(String.format(
            "%s is truncated: header length %d bytes extends beyond the file size %d bytes", where, headerLen, size));
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(channel, header, 8);
      HeaderParser.Header h = HeaderParser.parse(utf8(where, header.flip()), where);
      long dataLen = size - 8 - headerLen;
      Map<String, HeaderParser.Tensor> entries = new LinkedHashMap<>();
      for (HeaderParser.Tensor t : h.tensors()) {
        checkBytes(where, t, dataLen);
        entries.put(t.name(), t);
      }
      checkCoverage(where, entries.values(), dataLen);
      return new SafetensorsFile(file, channel, 8 + headerLen, Collections.unmodifiableMap(entries), h.metadata());
    } catch (IOException e) {
      throw new ModelLoadException("cannot read " + where + ": " + e, e);
    }
  }

  /** Decodes the header, refusing malformed UTF-8 as the reference does (no replacement characters). */
  private static String utf8(String where, ByteBuffer bytes) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    CharBuffer out = CharBuffer.allocate(bytes.remaining());
    CoderResult r = decoder.decode(bytes, out, true);
    if (r.isError()) {
      throw new ModelLoadException(String.format("%s: header is not valid UTF-8 (bad byte at header offset %d)",
          where, bytes.position()));
    }
    decoder.flush(out);
    return out.flip().toString();
  }

  /** The tensor lies inside the data section and holds exactly element count × dtype size bytes. */
  private static void checkBytes(String where, HeaderParser.Tensor t, long dataLen) {
    String at = where + ", tensor " + t.name();
    if (t.end() < t.start() || t.end() > dataLen) {
      throw new ModelLoadException(String.format(
          "%s: data_offsets [%d, %d] lie outside the data section of %d bytes (truncated file?)",
          at, t.start(), t.end(), dataLen));
    }
    long elements = 1;
    for (long d : t.shape()) {
      try {
        elements = Math.multiplyExact(elements, d);
      } catch (ArithmeticException e) {
        throw new ModelLoadException(String.format("%s: the element count of shape %s overflows a 64-bit integer",
            at, Arrays.toString(t.shape())));
      }
    }
    long expected;
    try {
      expected = Math.multiplyExact(elements, (long) t.dtype().sizeBytes());
    } catch (ArithmeticException e) {
      throw new ModelLoadException(String.format("%s: the byte count of shape %s × %d bytes (%s) overflows a "
          + "64-bit integer", at, Arrays.toString(t.shape()), t.dtype().sizeBytes(), t.dtype()));
    }
    if (t.end() - t.start() != expected) {
      throw new ModelLoadException(String.format(
          "%s: shape %s of dtype %s needs %d bytes, but data_offsets [%d, %d] hold %d bytes",
          at, Arrays.toString(t.shape()), t.dtype(), expected, t.start(), t.end(), t.end() - t.start()));
    }
  }

  /** Sorted by offset, the tensors tile [0, dataLen) exactly. */
  private static void checkCoverage(String where, Collection<HeaderParser.Tensor> tensors, long dataLen) {
    List<HeaderParser.Tensor> sorted = new ArrayList<>(tensors);
    sorted.sort(Comparator.comparingLong(HeaderParser.Tensor::start).thenComparingLong(HeaderParser.Tensor::end));
    long covered = 0;
    HeaderParser.Tensor prev = null;
    for (HeaderParser.Tensor cur : sorted) {
      if (cur.start() < covered) {
        throw new ModelLoadException(String.format("%s: tensors %s [%d, %d) and %s [%d, %d) overlap",
            where, prev.name(), prev.start(), prev.end(), cur.name(), cur.start(), cur.end()));
      }
      if (cur.start() > covered) {
        throw new ModelLoadException(String.format(
            "%s: bytes [%d, %d) of the data section belong to no tensor (%s tensor %s [%d, %d)); the data section "
                + "must be covered without gaps", where, covered, cur.start(), prev == null ? "before" : "between "
                + prev.name() + " and", cur.name(), cur.start(), cur.end()));
      }
      covered = cur.end();
      prev = cur;
    }
    if (covered != dataLen) {
      throw new ModelLoadException(String.format("%s: the data section is not fully covered: it holds %d bytes, the "
          + "tensors end at byte %d, leaving %d trailing bytes (header length edited, or bytes appended?)",
          where, dataLen, covered, dataLen - covered));
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = channel.read(buf, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }

  public Path file() {
    return file;
  }

  public Set<String> tensorNames() {
    return entries.keySet();
  }

  public boolean contains(String name) {
    return entries.containsKey(name);
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  /** One tensor's header entry (dtype, shape, offsets), without mapping it. */
  HeaderParser.Tensor entry(String name) {
    HeaderParser.Tensor e = entries.get(name);
    if (e == null) {
      throw new ModelLoadException("tensor " + name + " is not in safetensors file " + file);
    }
    return e;
  }

  /**
   * Maps one tensor. The mapping stays valid after this file is closed. An F8_E4M3 tensor needs its block scale,
   * which lies in another tensor (perhaps another shard): {@link Checkpoint#tensor} maps it with its scale.
   */
  public TensorSlice tensor(String name) {
    HeaderParser.Tensor e = entry(name);
    if (e.dtype().isFp8()) {
      throw new ModelLoadException(String.format("safetensors file %s, tensor %s: an F8_E4M3 tensor is read with "
          + "its %s scale, through Checkpoint.tensor", file, name, Fp8Scheme.SCALE_SUFFIX));
    }
    return new TensorSlice(name, file, e.dtype(), e.shape().clone(), map(name));
  }

  /** Maps one tensor's raw bytes (little-endian, any dtype; an F8_E4M3 tensor's codes without their scale). */
  public ByteBuffer map(String name) {
    HeaderParser.Tensor e = entry(name);
    long len = e.end() - e.start();
    if (len > Integer.MAX_VALUE) {
      throw new ModelLoadException(String.format(
          "safetensors file %s, tensor %s: %d bytes exceeds the 2 GiB limit of one mapping", file, name, len));
    }
    try {
      return len == 0 ? ByteBuffer.allocateDirect(0)
          : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.start(), len);
    } catch (IOException ex) {
      throw new ModelLoadException("cannot map tensor " + name + " of safetensors file " + file + ": " + ex, ex);
    }
  }

  @Override
  public void close() {
    closeQuietly(channel);
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing to recover: the mappings already made stay valid
    }
  }
}

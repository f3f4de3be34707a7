package io.autoglm.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file, validated on open and memory-mapped per tensor on demand.
 *
 * <p>Invariants after {@link #open}: every tensor has a known dtype, its byte count equals element count × dtype
 * size, it lies inside the data section, and no two tensors overlap. A bad file is a {@link ModelLoadException}
 * naming the file and the tensor, never a crash or a silently wrong tensor.
 */
public final class SafetensorsFile implements AutoCloseable {
  /** Upper bound on the JSON header; real checkpoints use well under 1 MB. */
  public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private record Entry(String name, DType dtype, long[] shape, long start, long end) {}

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, Entry> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path file, FileChannel channel, long dataStart, Map<String, Entry> entries,
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
    try {
      long size = channel.size();
      if (size < 8) {
        throw new ModelLoadException(String.format(
            "safetensors file %s is truncated: %d bytes, expected at least 8 for the header length", file, size));
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, lenBuf, 0);
      long headerLen = lenBuf.getLong(0);
      if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
        throw new ModelLoadException(String.format(
            "safetensors file %s: header length %d bytes is outside the sane range [2, %d]",
            file, headerLen, MAX_HEADER_BYTES));
      }
      if (8 + headerLen > size) {
        throw new ModelLoadException(String.format(
            "safetensors file %s is truncated: header length %d bytes extends beyond the file size %d bytes",
            file, headerLen, size));
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      readFully(channel, header, 8);
      String json = new String(header.array(), StandardCharsets.UTF_8);
      long dataStart = 8 + headerLen;
      long dataLen = size - dataStart;
      JsonObject root;
      try {
        root = JsonParser.parseString(json).getAsJsonObject();
      } catch (JsonParseException | IllegalStateException e) {
        throw new ModelLoadException("safetensors file " + file + ": header is not a JSON object: " + e.getMessage(), e);
      }
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, Entry> entries = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> e : root.entrySet()) {
        if (e.getKey().equals("__metadata__")) {
          if (e.getValue().isJsonObject()) {
            e.getValue().getAsJsonObject().entrySet()
                .forEach(m -> metadata.put(m.getKey(), m.getValue().isJsonPrimitive() ? m.getValue().getAsString() : m.getValue().toString()));
          }
          continue;
        }
        entries.put(e.getKey(), parseEntry(file, e.getKey(), e.getValue(), dataLen));
      }
      checkOverlaps(file, entries.values());
      return new SafetensorsFile(file, channel, dataStart, Collections.unmodifiableMap(entries),
          Collections.unmodifiableMap(metadata));
    } catch (IOException e) {
      throw new ModelLoadException("cannot read safetensors file " + file + ": " + e, e);
    }
  }

  private static Entry parseEntry(Path file, String name, JsonElement value, long dataLen) {
    String where = "safetensors file " + file + ", tensor " + name;
    if (!value.isJsonObject()) {
      throw new ModelLoadException(where + ": header entry is not an object: " + value);
    }
    JsonObject o = value.getAsJsonObject();
    if (!o.has("dtype") || !o.has("shape") || !o.has("data_offsets")) {
      throw new ModelLoadException(where + ": header entry needs dtype, shape and data_offsets, got " + o.keySet());
    }
    String dtypeName = o.get("dtype").getAsString();
    DType dtype = DType.fromHeader(dtypeName).orElseThrow(() -> new ModelLoadException(
        where + ": dtype " + dtypeName + " is not supported (" + Arrays.toString(DType.values()) + ")"));
    JsonArray shapeJson = o.getAsJsonArray("shape");
    long[] shape = new long[shapeJson.size()];
    long elements = 1;
    for (int i = 0; i < shape.length; i++) {
      shape[i] = shapeJson.get(i).getAsLong();
      if (shape[i] < 0) {
        throw new ModelLoadException(where + ": negative dimension in shape " + shapeJson);
      }
      elements = Math.multiplyExact(elements, shape[i]);
    }
    JsonArray offsets = o.getAsJsonArray("data_offsets");
    if (offsets.size() != 2) {
      throw new ModelLoadException(where + ": data_offsets must be [start, end], got " + offsets);
    }
    long start = offsets.get(0).getAsLong();
    long end = offsets.get(1).getAsLong();
    if (start < 0 || end < start || end > dataLen) {
      throw new ModelLoadException(String.format(
          "%s: data_offsets [%d, %d] lie outside the data section of %d bytes (truncated file?)",
          where, start, end, dataLen));
    }
    long expected = elements * dtype.sizeBytes();
    if (end - start != expected) {
      throw new ModelLoadException(String.format(
          "%s: shape %s of dtype %s needs %d bytes, but data_offsets [%d, %d] hold %d bytes",
          where, Arrays.toString(shape), dtype, expected, start, end, end - start));
    }
    return new Entry(name, dtype, shape, start, end);
  }

  private static void checkOverlaps(Path file, java.util.Collection<Entry> entries) {
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong(Entry::start).thenComparingLong(Entry::end));
    for (int i = 1; i < sorted.size(); i++) {
      Entry prev = sorted.get(i - 1);
      Entry cur = sorted.get(i);
      if (cur.start() < prev.end() && cur.end() > cur.start()) {
        throw new ModelLoadException(String.format(
            "safetensors file %s: tensors %s [%d, %d) and %s [%d, %d) overlap",
            file, prev.name(), prev.start(), prev.end(), cur.name(), cur.start(), cur.end()));
      }
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

  /** Maps one tensor. The mapping stays valid after this file is closed. */
  public TensorSlice tensor(String name) {
    Entry e = entries.get(name);
    if (e == null) {
      throw new ModelLoadException("tensor " + name + " is not in safetensors file " + file);
    }
    long len = e.end() - e.start();
    if (len > Integer.MAX_VALUE) {
      throw new ModelLoadException(String.format(
          "safetensors file %s, tensor %s: %d bytes exceeds the 2 GiB limit of one mapping", file, name, len));
    }
    try {
      ByteBuffer mapped = len == 0 ? ByteBuffer.allocateDirect(0)
          : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.start(), len);
      return new TensorSlice(name, file, e.dtype(), e.shape().clone(), mapped);
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

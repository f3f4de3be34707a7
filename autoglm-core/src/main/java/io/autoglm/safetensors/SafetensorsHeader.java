package io.autoglm.safetensors;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Writes the head of a safetensors file: the 8-byte little-endian header length, then the JSON header padded with
 * spaces to a multiple of 8 bytes, for tensors whose data follow back to back in the given order.
 */
public final class SafetensorsHeader {
  private SafetensorsHeader() {}

  /** One tensor of the file. */
  public record Entry(String name, DType dtype, long[] shape) {
    public Entry {
      shape = shape.clone();
      for (long d : shape) {
        if (d < 0) {
          throw new IllegalArgumentException("tensor " + name + ": negative dimension in " + Arrays.toString(shape));
        }
      }
    }

    public long elements() {
      long n = 1;
      for (long d : shape) {
        n = Math.multiplyExact(n, d);
      }
      return n;
    }

    public long bytes() {
      return elements() * dtype.sizeBytes();
    }
  }

  /** The length prefix and padded JSON header, ready to write; position 0, limit = its size. */
  public static ByteBuffer encode(List<Entry> tensors) {
    JsonObject header = new JsonObject();
    long offset = 0;
    for (Entry e : tensors) {
      JsonObject t = new JsonObject();
      t.addProperty("dtype", e.dtype().name());
      JsonArray shape = new JsonArray();
      for (long d : e.shape()) {
        shape.add(d);
      }
      t.add("shape", shape);
      JsonArray offsets = new JsonArray();
      offsets.add(offset);
      offset += e.bytes();
      offsets.add(offset);
      t.add("data_offsets", offsets);
      header.add(e.name(), t);
    }
    byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    return head.flip();
  }

  /** Bytes of all tensors' data. */
  public static long dataBytes(List<Entry> tensors) {
    return tensors.stream().mapToLong(Entry::bytes).sum();
  }
}

package io.autoglm.model;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/** Writes small F32 safetensors files of random values, for building test checkpoints. */
final class F32Safetensors {
  private F32Safetensors() {}

  static void writeRandom(Path file, Map<String, long[]> shapes, long seed) throws IOException {
    JsonObject header = new JsonObject();
    long offset = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      JsonObject t = new JsonObject();
      t.addProperty("dtype", "F32");
      JsonArray shape = new JsonArray();
      long n = 1;
      for (long d : e.getValue()) {
        shape.add(d);
        n *= d;
      }
      t.add("shape", shape);
      JsonArray offsets = new JsonArray();
      offsets.add(offset);
      offset += 4 * n;
      offsets.add(offset);
      t.add("data_offsets", offsets);
      header.add(e.getKey(), t);
    }
    byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(8 + json.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(json.length).put(json);
    SplittableRandom random = new SplittableRandom(seed);
    while (buf.hasRemaining()) {
      buf.putFloat((float) (random.nextDouble() - 0.5));
    }
    Files.write(file, buf.array());
  }
}

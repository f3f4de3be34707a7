package io.autoglm.model;

import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.SafetensorsHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Writes small F32 safetensors files of random values, for building test checkpoints. */
final class F32Safetensors {
  private F32Safetensors() {}

  static void writeRandom(Path file, Map<String, long[]> shapes, long seed) throws IOException {
    List<SafetensorsHeader.Entry> entries = shapes.entrySet().stream()
        .map(e -> new SafetensorsHeader.Entry(e.getKey(), DType.F32, e.getValue())).toList();
    ByteBuffer head = SafetensorsHeader.encode(entries);
    ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(head.remaining() + SafetensorsHeader.dataBytes(entries)))
        .order(ByteOrder.LITTLE_ENDIAN);
    buf.put(head);
    SplittableRandom random = new SplittableRandom(seed);
    while (buf.hasRemaining()) {
      buf.putFloat((float) (random.nextDouble() - 0.5));
    }
    Files.write(file, buf.array());
  }
}

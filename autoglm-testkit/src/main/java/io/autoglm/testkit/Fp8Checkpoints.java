package io.autoglm.testkit;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8;
import io.autoglm.safetensors.Fp8Scheme;
import io.autoglm.safetensors.SafetensorsHeader;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Converts small checkpoints (whole tensors in memory: for fixtures and tests) between unquantized and the published
 * block-scaled FP8 form. {@link #quantize} writes the chosen weights as F8_E4M3 with an F32 {@code _scale_inv}
 * ({@link Fp8#quantize}) and config.json's {@code quantization_config}; {@link #dequantize} writes an FP8
 * checkpoint's weights back as the F32 values {@code code × scale}, which is what loading the FP8 checkpoint must
 * compute. Other tensors are copied as stored; the output is one {@code model.safetensors}.
 */
public final class Fp8Checkpoints {
  private Fp8Checkpoints() {}

  /** Quantizes the decoder's linear weights ({@link CheckpointLayout#linearWeights}). */
  public static void quantize(Path src, Path dst, Fp8Scheme scheme) {
    quantize(src, dst, scheme, CheckpointLayout.linearWeights(ModelConfig.load(src)));
  }

  /** Quantizes the tensors {@code names} (which tests may choose to include a non-linear one). */
  public static void quantize(Path src, Path dst, Fp8Scheme scheme, Set<String> names) {
    JsonObject config = readConfig(src);
    JsonObject q = new JsonObject();
    q.addProperty("quant_method", "fp8");
    q.addProperty("fmt", "e4m3");
    q.addProperty("activation_scheme", "dynamic");
    JsonArray block = new JsonArray();
    block.add(scheme.blockRows());
    block.add(scheme.blockCols());
    q.add("weight_block_size", block);
    config.add("quantization_config", q);
    try (Checkpoint ckpt = Checkpoint.open(src, ModelConfig.load(src).quantization())) {
      Map<String, Out> out = new LinkedHashMap<>();
      for (String name : ckpt.tensorNames()) {
        TensorSlice t = ckpt.tensorAnyShape(name);
        if (names.contains(name)) {
          Fp8.Quantized w = Fp8.quantize(name, floats(t), t.dim(0), t.dim(1), scheme.blockRows(), scheme.blockCols());
          out.put(name, new Out(DType.F8_E4M3, t.shape(), ByteBuffer.wrap(w.codes())));
          out.put(name + Fp8Scheme.SCALE_SUFFIX, new Out(DType.F32, new long[] {w.scaleRows(), w.scaleCols()},
              f32(w.scaleInv())));
        } else {
          out.put(name, new Out(t.dtype(), t.shape(), t.data()));
        }
      }
      write(dst, config, out, src);
    }
  }

  /** An FP8 checkpoint's twin: each F8_E4M3 weight as F32 {@code code × scale}; no scales, no quantization_config. */
  public static void dequantize(Path src, Path dst) {
    JsonObject config = readConfig(src);
    config.remove("quantization_config");
    try (Checkpoint ckpt = Checkpoint.open(src, ModelConfig.load(src).quantization())) {
      Map<String, Out> out = new LinkedHashMap<>();
      for (String name : ckpt.tensorNames()) {
        if (name.endsWith(Fp8Scheme.SCALE_SUFFIX)) {
          continue;
        }
        TensorSlice t = ckpt.tensorAnyShape(name);
        out.put(name, t.dtype().isFp8() ? new Out(DType.F32, t.shape(), f32(floats(t)))
            : new Out(t.dtype(), t.shape(), t.data()));
      }
      write(dst, config, out, src);
    }
  }

  private record Out(DType dtype, long[] shape, ByteBuffer data) {}

  static float[] floats(TensorSlice t) {
    float[] v = new float[Math.toIntExact(t.elementCount())];
    Widening.toFloat32(t, 0, v.length, FloatBuffer.wrap(v));
    return v;
  }

  static ByteBuffer f32(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return b;
  }

  private static JsonObject readConfig(Path src) {
    try {
      return JsonParser.parseString(Files.readString(src.resolve("config.json"))).getAsJsonObject();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + src.resolve("config.json"), e);
    }
  }

  private static void write(Path dst, JsonObject config, Map<String, Out> tensors, Path src) {
    try {
      Files.createDirectories(dst);
      Files.writeString(dst.resolve("config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(config));
      if (Files.isRegularFile(src.resolve("generation_config.json"))) {
        Files.copy(src.resolve("generation_config.json"), dst.resolve("generation_config.json"),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
      List<SafetensorsHeader.Entry> entries = new ArrayList<>();
      tensors.forEach((n, t) -> entries.add(new SafetensorsHeader.Entry(n, t.dtype(), t.shape())));
      try (FileChannel ch = FileChannel.open(dst.resolve(Checkpoint.SINGLE_FILE), StandardOpenOption.CREATE,
          StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        writeAll(ch, SafetensorsHeader.encode(entries));
        for (Out t : tensors.values()) {
          writeAll(ch, t.data().duplicate().rewind());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint " + dst, e);
    }
  }

  private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}

package io.autoglm.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a checkpoint folder: one {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Every shard is validated when the checkpoint opens.
 */
public final class Checkpoint implements AutoCloseable {
  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";

  private final Path dir;
  private final Map<String, SafetensorsFile> byTensor;
  private final Map<Path, SafetensorsFile> files;

  private Checkpoint(Path dir, Map<String, SafetensorsFile> byTensor, Map<Path, SafetensorsFile> files) {
    this.dir = dir;
    this.byTensor = byTensor;
    this.files = files;
  }

  public static Checkpoint open(Path dir) {
    Path index = dir.resolve(INDEX_FILE);
    Path single = dir.resolve(SINGLE_FILE);
    Map<Path, SafetensorsFile> files = new LinkedHashMap<>();
    Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
    try {
      if (Files.isRegularFile(index)) {
        for (Map.Entry<String, String> e : readIndex(index).entrySet()) {
          Path shard = dir.resolve(e.getValue());
          if (!Files.isRegularFile(shard)) {
            throw new ModelLoadException(String.format(
                "index %s names shard %s for tensor %s, but that file does not exist", index, e.getValue(), e.getKey()));
          }
          SafetensorsFile f = files.computeIfAbsent(shard, SafetensorsFile::open);
          if (!f.contains(e.getKey())) {
            throw new ModelLoadException(String.format(
                "index %s places tensor %s in shard %s, but that shard does not hold it", index, e.getKey(), shard));
          }
          byTensor.put(e.getKey(), f);
        }
      } else if (Files.isRegularFile(single)) {
        SafetensorsFile f = SafetensorsFile.open(single);
        files.put(single, f);
        f.tensorNames().forEach(n -> byTensor.put(n, f));
      } else {
        throw new ModelLoadException("checkpoint folder " + dir + " has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
      }
    } catch (RuntimeException e) {
      files.values().forEach(SafetensorsFile::close);
      throw e;
    }
    return new Checkpoint(dir, byTensor, files);
  }

  private static Map<String, String> readIndex(Path index) {
    JsonObject root;
    try {
      root = JsonParser.parseString(Files.readString(index)).getAsJsonObject();
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException("cannot read shard index " + index + ": " + e.getMessage(), e);
    }
    if (!root.has("weight_map") || !root.get("weight_map").isJsonObject()) {
      throw new ModelLoadException("shard index " + index + " has no weight_map object");
    }
    Map<String, String> map = new LinkedHashMap<>();
    for (Map.Entry<String, JsonElement> e : root.getAsJsonObject("weight_map").entrySet()) {
      map.put(e.getKey(), e.getValue().getAsString());
    }
    return map;
  }

  public Path dir() {
    return dir;
  }

  public Set<String> tensorNames() {
    return byTensor.keySet();
  }

  public boolean contains(String name) {
    return byTensor.containsKey(name);
  }

  /** Maps a tensor, checking its shape. */
  public TensorSlice tensor(String name, long... expectedShape) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelLoadException("tensor " + name + " is missing from checkpoint " + dir);
    }
    TensorSlice t = f.tensor(name);
    if (!Arrays.equals(t.shape(), expectedShape)) {
      throw new ModelLoadException(String.format("tensor %s in %s has shape %s, expected %s from config.json",
          name, f.file(), Arrays.toString(t.shape()), Arrays.toString(expectedShape)));
    }
    if (!t.dtype().isFloat()) {
      throw new ModelLoadException(String.format("tensor %s in %s has dtype %s, expected a weight type (F32, F16, BF16)",
          name, f.file(), t.dtype()));
    }
    return t;
  }

  /** Maps a tensor of any shape (reference data, not weights). */
  public TensorSlice tensorAnyShape(String name) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelLoadException("tensor " + name + " is missing from checkpoint " + dir);
    }
    return f.tensor(name);
  }

  /** Total bytes of all tensors as stored. */
  public long storedBytes() {
    long total = 0;
    for (String n : byTensor.keySet()) {
      total += byTensor.get(n).tensor(n).data().capacity();
    }
    return total;
  }

  @Override
  public void close() {
    files.values().forEach(SafetensorsFile::close);
  }
}

package io.autoglm.safetensors;

import io.autoglm.ModelLoadException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a checkpoint folder: one {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Every shard is validated when the checkpoint opens.
 *
 * <p>Invariants after {@link #open}: every file read lies inside the model folder ({@link ModelFolder}); each tensor
 * is stored in exactly one shard, the one the index names; the checkpoint's tensors are all the tensors of the shards
 * the index names (as transformers loads them), including any the index leaves out.
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
    Path index = ModelFolder.file(dir, INDEX_FILE);
    Path single = ModelFolder.file(dir, SINGLE_FILE);
    Map<Path, SafetensorsFile> files = new LinkedHashMap<>();
    Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
    try {
      if (Files.isRegularFile(index)) {
        openShards(dir, index, files);
      } else if (Files.isRegularFile(single)) {
        files.put(single, SafetensorsFile.open(single));
      } else {
        throw new ModelLoadException("checkpoint folder " + dir + " has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
      }
      for (SafetensorsFile f : files.values()) {
        for (String name : f.tensorNames()) {
          SafetensorsFile other = byTensor.putIfAbsent(name, f);
          if (other != null) {
            throw new ModelLoadException(String.format(
                "tensor %s is stored twice, in shards %s and %s; a checkpoint holds each tensor once",
                name, other.file(), f.file()));
          }
        }
      }
    } catch (RuntimeException e) {
      files.values().forEach(SafetensorsFile::close);
      throw e;
    }
    return new Checkpoint(dir, byTensor, files);
  }

  private static void openShards(Path dir, Path index, Map<Path, SafetensorsFile> files) {
    for (Map.Entry<String, String> e : ShardIndex.read(index).entrySet()) {
      Path shard = ModelFolder.resolve(dir, e.getValue(), String.format("index %s places tensor %s in %s",
          index, e.getKey(), HeaderParser.quote(e.getValue())));
      if (!Files.isRegularFile(shard)) {
        throw new ModelLoadException(String.format(
            "index %s names shard %s for tensor %s, but that file does not exist", index, e.getValue(), e.getKey()));
      }
      SafetensorsFile f = files.computeIfAbsent(shard, SafetensorsFile::open);
      if (!f.contains(e.getKey())) {
        throw new ModelLoadException(String.format(
            "index %s places tensor %s in shard %s, but that shard does not hold it", index, e.getKey(), shard));
      }
    }
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

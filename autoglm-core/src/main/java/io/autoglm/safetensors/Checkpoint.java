package io.autoglm.safetensors;

import io.autoglm.ModelLoadException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The weights of a checkpoint folder: one {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Every shard is validated when the checkpoint opens.
 *
 * <p>Invariants after {@link #open}: every file read lies inside the model folder ({@link ModelFolder}); each tensor
 * is stored in exactly one shard, the one the index names; the checkpoint's tensors are all the tensors of the shards
 * the index names (as transformers loads them), including any the index leaves out; FP8 tensors and their scales
 * pass {@link Fp8Tensors}' checks for the checkpoint's {@link Fp8Scheme}.
 */
public final class Checkpoint implements AutoCloseable {
  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";

  private final Path dir;
  private final Map<String, SafetensorsFile> byTensor;
  private final Map<Path, SafetensorsFile> files;
  private final Optional<Fp8Scheme> fp8;

  private Checkpoint(Path dir, Map<String, SafetensorsFile> byTensor, Map<Path, SafetensorsFile> files,
      Optional<Fp8Scheme> fp8) {
    this.dir = dir;
    this.byTensor = byTensor;
    this.files = files;
    this.fp8 = fp8;
  }

  /**
   * Opens a checkpoint whose FP8 tensors, if any, are in the published 128 × 128 blocks. Whoever has read config.json
   * passes its {@code quantization_config} instead ({@link #open(Path, Optional)} with
   * {@code ModelConfig.quantization()}), as the loader does.
   */
  public static Checkpoint open(Path dir) {
    return open(dir, Optional.of(Fp8Scheme.PUBLISHED));
  }

  /**
   * Opens a checkpoint; {@code fp8} is config.json's {@code quantization_config} (empty: the checkpoint may hold no
   * F8_E4M3 tensor).
   */
  public static Checkpoint open(Path dir, Optional<Fp8Scheme> fp8) {
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
      Fp8Tensors.check(byTensor, fp8, dir);
    } catch (RuntimeException e) {
      files.values().forEach(SafetensorsFile::close);
      throw e;
    }
    return new Checkpoint(dir, byTensor, files, fp8);
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

  /** The FP8 block layout the checkpoint was opened with. */
  public Optional<Fp8Scheme> fp8() {
    return fp8;
  }

  public Set<String> tensorNames() {
    return byTensor.keySet();
  }

  public boolean contains(String name) {
    return byTensor.containsKey(name);
  }

  /**
   * Maps a weight, checking its shape: F32, F16 or BF16, or F8_E4M3 with its {@link BlockScale} attached (the
   * scale's values checked).
   */
  public TensorSlice tensor(String name, long... expectedShape) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelLoadException("tensor " + name + " is missing from checkpoint " + dir);
    }
    HeaderParser.Tensor h = f.entry(name);
    if (!Arrays.equals(h.shape(), expectedShape)) {
      throw new ModelLoadException(String.format("tensor %s in %s has shape %s, expected %s from config.json",
          name, f.file(), Arrays.toString(h.shape()), Arrays.toString(expectedShape)));
    }
    if (h.dtype().isFp8()) {
      return fp8Tensor(name, f);
    }
    TensorSlice t = f.tensor(name);
    if (!t.dtype().isFloat()) {
      throw new ModelLoadException(String.format("tensor %s in %s has dtype %s, expected a weight type (F32, F16, "
          + "BF16, or F8_E4M3 with a scale)", name, f.file(), t.dtype()));
    }
    return t;
  }

  /** An F8_E4M3 tensor (checked by {@link Fp8Tensors#check} when the checkpoint opened) with its scale. */
  private TensorSlice fp8Tensor(String name, SafetensorsFile f) {
    HeaderParser.Tensor h = f.entry(name);
    String scaleName = name + Fp8Scheme.SCALE_SUFFIX;
    TensorSlice scale = byTensor.get(scaleName).tensor(scaleName);
    return Fp8Tensors.withScale(name, f.file(), h.shape().clone(), f.map(name), scale, fp8.orElseThrow());
  }

  /** Maps a tensor of any shape (reference data, not weights); an F8_E4M3 one with its scale. */
  public TensorSlice tensorAnyShape(String name) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelLoadException("tensor " + name + " is missing from checkpoint " + dir);
    }
    return f.entry(name).dtype().isFp8() ? fp8Tensor(name, f) : f.tensor(name);
  }

  /** Total bytes of all tensors as stored. */
  public long storedBytes() {
    long total = 0;
    for (String n : byTensor.keySet()) {
      HeaderParser.Tensor h = byTensor.get(n).entry(n);
      total += h.end() - h.start();
    }
    return total;
  }

  @Override
  public void close() {
    files.values().forEach(SafetensorsFile::close);
  }
}

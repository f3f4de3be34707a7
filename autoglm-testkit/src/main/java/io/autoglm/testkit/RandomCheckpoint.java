package io.autoglm.testkit;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8;
import io.autoglm.safetensors.Fp8Scheme;
import io.autoglm.safetensors.SafetensorsHeader;
import io.autoglm.safetensors.Widening;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Writes a checkpoint with random bf16 weights in the transformers layout ({@code config.json},
 * {@code generation_config.json}, sharded safetensors and the index), at the shapes of a real model, optionally
 * overridden. For benchmarks and end-to-end tests without downloads.
 *
 * <p>{@link #fp8()} writes the published FP8 form instead (as zai-org's GLM-4.5-FP8): the decoder's linear weights
 * ({@link CheckpointLayout#linearWeights}) as F8_E4M3 with an F32 {@code _scale_inv} per 128 × 128 block, the rest
 * bf16, and {@code quantization_config} in config.json. Its linear weights are the bf16 checkpoint's (same seed)
 * quantized by {@link Fp8#quantize}, so the two describe one model. A weight is quantized one block row at a time,
 * never held whole.
 */
public final class RandomCheckpoint {
  /** Real configs, as the published checkpoints ship them. */
  private static final Map<String, String> PRESETS = new TreeMap<>(Map.of(
      "glm-4.5", """
          {"architectures":["Glm4MoeForCausalLM"],"model_type":"glm4_moe","attention_bias":true,"head_dim":128,
           "hidden_act":"silu","hidden_size":5120,"partial_rotary_factor":0.5,"intermediate_size":12288,
           "max_position_embeddings":131072,"moe_intermediate_size":1536,"norm_topk_prob":true,
           "num_attention_heads":96,"n_group":1,"topk_group":1,"n_routed_experts":160,"n_shared_experts":1,
           "routed_scaling_factor":2.5,"num_experts_per_tok":8,"first_k_dense_replace":3,"num_hidden_layers":92,
           "num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_scaling":null,"rope_theta":1000000,
           "num_nextn_predict_layers":1,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
           "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"use_qk_norm":true,"vocab_size":151552,
           "transformers_version":"4.54.0"}""",
      "glm-4.5-air", """
          {"architectures":["Glm4MoeForCausalLM"],"model_type":"glm4_moe","attention_bias":true,"head_dim":128,
           "hidden_act":"silu","hidden_size":4096,"partial_rotary_factor":0.5,"intermediate_size":10944,
           "max_position_embeddings":131072,"moe_intermediate_size":1408,"norm_topk_prob":true,
           "num_attention_heads":96,"n_group":1,"topk_group":1,"n_routed_experts":128,"n_shared_experts":1,
           "routed_scaling_factor":1.0,"num_experts_per_tok":8,"first_k_dense_replace":1,"num_hidden_layers":46,
           "num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_scaling":null,"rope_theta":1000000,
           "num_nextn_predict_layers":1,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
           "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"use_qk_norm":false,"vocab_size":151552,
           "transformers_version":"4.54.0"}""",
      "glm-4-9b-chat", """
          {"architectures":["GlmForCausalLM"],"model_type":"glm","attention_bias":true,"head_dim":128,
           "hidden_act":"silu","hidden_size":4096,"intermediate_size":13696,"max_position_embeddings":131072,
           "num_attention_heads":32,"num_hidden_layers":40,"num_key_value_heads":2,"partial_rotary_factor":0.5,
           "rms_norm_eps":1.5625e-07,"rope_theta":10000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
           "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"vocab_size":151552,
           "transformers_version":"4.46.0"}""",
      "glm-4-9b-0414", """
          {"architectures":["Glm4ForCausalLM"],"model_type":"glm4","attention_bias":true,"head_dim":128,
           "hidden_act":"silu","hidden_size":4096,"intermediate_size":13696,"max_position_embeddings":32768,
           "num_attention_heads":32,"num_hidden_layers":40,"num_key_value_heads":2,"partial_rotary_factor":0.5,
           "rms_norm_eps":1e-05,"rope_parameters":{"rope_theta":10000.0,"partial_rotary_factor":0.5,
           "rope_type":"default"},"tie_word_embeddings":false,"dtype":"bfloat16",
           "eos_token_id":[151329,151336,151338],"pad_token_id":151329,"vocab_size":151552,
           "transformers_version":"5.17.0"}"""));

  private final JsonObject config;
  private final long maxShardBytes;
  private final long seed;
  private final Optional<Fp8Scheme> fp8;

  private RandomCheckpoint(JsonObject config, long maxShardBytes, long seed, Optional<Fp8Scheme> fp8) {
    this.config = config;
    this.maxShardBytes = maxShardBytes;
    this.seed = seed;
    this.fp8 = fp8;
  }

  /** The same model in the published FP8 form (128 × 128 blocks). */
  public RandomCheckpoint fp8() {
    JsonObject c = config.deepCopy();
    JsonObject q = new JsonObject();
    q.addProperty("quant_method", "fp8");
    q.addProperty("fmt", "e4m3");
    q.addProperty("activation_scheme", "dynamic");
    JsonArray block = new JsonArray();
    block.add(Fp8Scheme.PUBLISHED.blockRows());
    block.add(Fp8Scheme.PUBLISHED.blockCols());
    q.add("weight_block_size", block);
    c.add("quantization_config", q);
    return new RandomCheckpoint(c, maxShardBytes, seed, Optional.of(Fp8Scheme.PUBLISHED));
  }

  public static List<String> presets() {
    return List.copyOf(PRESETS.keySet());
  }

  /**
   * A preset's config with {@code key=value} overrides; a dotted key reaches into an object
   * ({@code rope_parameters.rope_theta=500000}).
   */
  public static RandomCheckpoint like(String preset, Map<String, String> overrides, long maxShardBytes, long seed) {
    String json = PRESETS.get(preset);
    if (json == null) {
      throw new IllegalArgumentException("unknown preset " + preset + "; known: " + PRESETS.keySet());
    }
    JsonObject config = JsonParser.parseString(json).getAsJsonObject();
    overrides.forEach((k, v) -> set(config, k, v));
    ModelConfig.fromJson(config); // validates the overrides
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes (" + maxShardBytes + ") must be > 0");
    }
    return new RandomCheckpoint(config, maxShardBytes, seed, Optional.empty());
  }

  private static void set(JsonObject root, String key, String value) {
    String[] path = key.split("\\.");
    JsonObject target = root;
    for (int i = 0; i < path.length - 1; i++) {
      if (!target.has(path[i]) || !target.get(path[i]).isJsonObject()) {
        target.add(path[i], new JsonObject());
      }
      target = target.getAsJsonObject(path[i]);
    }
    target.add(path[path.length - 1], parseValue(value));
  }

  private static JsonElement parseValue(String v) {
    if (v.equals("true") || v.equals("false")) {
      return new JsonPrimitive(Boolean.parseBoolean(v));
    }
    if (v.startsWith("[") || v.startsWith("{")) {
      return JsonParser.parseString(v);
    }
    try {
      return v.contains(".") || v.contains("e") ? new JsonPrimitive(Double.parseDouble(v))
          : new JsonPrimitive(Long.parseLong(v));
    } catch (NumberFormatException e) {
      return new JsonPrimitive(v);
    }
  }

  public ModelConfig modelConfig() {
    return ModelConfig.fromJson(config);
  }

  /** Writes the checkpoint into {@code dir}, reporting each shard as it is written. */
  public void write(Path dir, Consumer<String> progress) {
    ModelConfig c = modelConfig();
    try {
      Files.createDirectories(dir);
      var gson = new GsonBuilder().setPrettyPrinting().create();
      Files.writeString(dir.resolve("config.json"), gson.toJson(config));
      JsonObject gen = new JsonObject();
      JsonArray eos = new JsonArray();
      c.eosTokenIds().forEach(eos::add);
      gen.add("eos_token_id", eos);
      if (config.has("pad_token_id")) {
        gen.add("pad_token_id", config.get("pad_token_id"));
      }
      Files.writeString(dir.resolve("generation_config.json"), gson.toJson(gen));
      List<List<Unit>> shards = planShards(units(c));
      Map<String, String> weightMap = new LinkedHashMap<>();
      long total = 0;
      SplittableRandom random = new SplittableRandom(seed);
      for (int s = 0; s < shards.size(); s++) {
        String name = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
        total += writeShard(dir.resolve(name), shards.get(s), random);
        shards.get(s).forEach(u -> u.entries().forEach(e -> weightMap.put(e.name(), name)));
        progress.accept(String.format("wrote %s (%d/%d)", name, s + 1, shards.size()));
      }
      JsonObject index = new JsonObject();
      JsonObject meta = new JsonObject();
      meta.addProperty("total_size", total);
      index.add("metadata", meta);
      index.add("weight_map", gson.toJsonTree(new TreeMap<>(weightMap)));
      Files.writeString(dir.resolve("model.safetensors.index.json"), gson.toJson(index));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write random checkpoint to " + dir, e);
    }
  }

  /** One layout tensor as written: its entry, plus its scale's when it is stored as FP8 (kept in one shard). */
  private record Unit(String name, long[] shape, List<SafetensorsHeader.Entry> entries) {
    boolean fp8() {
      return entries.size() == 2;
    }

    long bytes() {
      return entries.stream().mapToLong(SafetensorsHeader.Entry::bytes).sum();
    }
  }

  private List<Unit> units(ModelConfig c) {
    Set<String> linear = fp8.isPresent() ? CheckpointLayout.linearWeights(c) : Set.of();
    List<Unit> units = new ArrayList<>();
    for (Map.Entry<String, long[]> t : CheckpointLayout.tensors(c).entrySet()) {
      String name = t.getKey();
      long[] shape = t.getValue();
      if (linear.contains(name)) {
        Fp8Scheme s = fp8.get();
        units.add(new Unit(name, shape, List.of(new SafetensorsHeader.Entry(name, DType.F8_E4M3, shape),
            new SafetensorsHeader.Entry(name + Fp8Scheme.SCALE_SUFFIX, DType.F32, new long[] {
                (shape[0] + s.blockRows() - 1) / s.blockRows(), (shape[1] + s.blockCols() - 1) / s.blockCols()}))));
      } else {
        units.add(new Unit(name, shape, List.of(new SafetensorsHeader.Entry(name, fp32(name) ? DType.F32 : DType.BF16,
            shape))));
      }
    }
    return units;
  }

  private List<List<Unit>> planShards(List<Unit> units) {
    List<List<Unit>> shards = new ArrayList<>();
    List<Unit> current = new ArrayList<>();
    long bytes = 0;
    for (Unit u : units) {
      if (!current.isEmpty() && bytes + u.bytes() > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        bytes = 0;
      }
      current.add(u);
      bytes += u.bytes();
    }
    if (!current.isEmpty()) {
      shards.add(current);
    }
    return shards;
  }

  /** The router's correction bias is fp32 in real checkpoints (transformers keeps it in fp32); the rest bf16. */
  private static boolean fp32(String name) {
    return name.endsWith("e_score_correction_bias");
  }

  private static long elements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  private long writeShard(Path file, List<Unit> units, SplittableRandom random) throws IOException {
    List<SafetensorsHeader.Entry> entries = units.stream().flatMap(u -> u.entries().stream()).toList();
    ByteBuffer buf = ByteBuffer.allocateDirect(8 << 20).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      writeAll(ch, SafetensorsHeader.encode(entries));
      for (Unit u : units) {
        if (u.fp8()) {
          writeFp8(ch, u, random);
        } else {
          writeTensor(ch, u.name(), elements(u.shape()), buf, random);
        }
      }
    }
    return SafetensorsHeader.dataBytes(entries);
  }

  /** Draws a linear weight as the bf16 path does, rounded to bf16, quantized one block row at a time. */
  private void writeFp8(FileChannel ch, Unit u, SplittableRandom random) throws IOException {
    Fp8Scheme s = fp8.orElseThrow();
    int rows = Math.toIntExact(u.shape()[0]);
    int cols = Math.toIntExact(u.shape()[1]);
    long[] scaleShape = u.entries().get(1).shape();
    float[] scales = new float[Math.toIntExact(scaleShape[0] * scaleShape[1])];
    float range = 0.02f * (float) Math.sqrt(3);
    for (int r0 = 0; r0 < rows; r0 += s.blockRows()) {
      int n = Math.min(s.blockRows(), rows - r0);
      float[] w = new float[n * cols];
      for (int i = 0; i < w.length; i++) {
        float value = range * (float) (random.nextDouble() * 2 - 1);
        w[i] = Float.intBitsToFloat((Widening.floatToBf16(value) & 0xffff) << 16);
      }
      Fp8.Quantized q = Fp8.quantize(u.name(), w, n, cols, s.blockRows(), s.blockCols(), r0);
      writeAll(ch, ByteBuffer.wrap(q.codes()));
      System.arraycopy(q.scaleInv(), 0, scales, (r0 / s.blockRows()) * q.scaleCols(), q.scaleCols());
    }
    ByteBuffer b = ByteBuffer.allocate(scales.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(scales);
    writeAll(ch, b);
  }

  /**
   * Norm weights near 1, biases near 0, other weights uniform with std 0.02 (so activations stay finite through
   * many layers).
   */
  private static void writeTensor(FileChannel ch, String name, long n, ByteBuffer buf, SplittableRandom random)
      throws IOException {
    boolean norm = name.endsWith("norm.weight");
    boolean fp32 = fp32(name);
    float scale = name.endsWith(".bias") || fp32 ? 0.01f : 0.02f * (float) Math.sqrt(3);
    for (long i = 0; i < n; i++) {
      float u = (float) (random.nextDouble() * 2 - 1);
      float value = norm ? 1 + 0.1f * u : scale * u;
      if (fp32) {
        buf.putFloat(value);
      } else {
        buf.putShort(Widening.floatToBf16(value));
      }
      if (!buf.hasRemaining()) {
        buf.flip();
        writeAll(ch, buf);
        buf.clear();
      }
    }
    buf.flip();
    writeAll(ch, buf);
    buf.clear();
  }

  private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}

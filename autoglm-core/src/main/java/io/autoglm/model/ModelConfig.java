package io.autoglm.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The decoder's shape, read from {@code config.json} in both the transformers 4.x form (top-level
 * {@code rope_theta}, {@code partial_rotary_factor}, {@code torch_dtype}) and the 5.x form ({@code rope_parameters},
 * {@code dtype}).
 *
 * @param rotaryDim leading channels of each head that RoPE rotates: {@code headDim × partial_rotary_factor}
 * @param useQkNorm whether attention RMS-normalises each query and key head before RoPE ({@code use_qk_norm},
 *     GLM4-MoE only)
 * @param moe the mixture-of-experts settings; present exactly for {@link Architecture#mixtureOfExperts()}
 */
public record ModelConfig(
    Architecture architecture,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int vocabSize,
    double rmsNormEps,
    double ropeTheta,
    int rotaryDim,
    int maxPositionEmbeddings,
    boolean attentionBias,
    boolean tieWordEmbeddings,
    String dtype,
    List<Integer> eosTokenIds,
    boolean useQkNorm,
    Optional<MoeConfig> moe) {

  public ModelConfig {
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_hidden_layers", numLayers);
    positive("num_attention_heads", numHeads);
    positive("num_key_value_heads", numKvHeads);
    positive("head_dim", headDim);
    positive("vocab_size", vocabSize);
    positive("max_position_embeddings", maxPositionEmbeddings);
    if (numHeads % numKvHeads != 0) {
      throw new ModelLoadException(String.format(
          "num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)", numHeads, numKvHeads));
    }
    if (rotaryDim <= 0 || rotaryDim > headDim || rotaryDim % 2 != 0) {
      throw new ModelLoadException(String.format(
          "rotary dim (head_dim %d × partial_rotary_factor) = %d must be even and in (0, head_dim]", headDim, rotaryDim));
    }
    if (!(rmsNormEps > 0)) {
      throw new ModelLoadException("rms_norm_eps (" + rmsNormEps + ") must be > 0");
    }
    if (!(ropeTheta > 0)) {
      throw new ModelLoadException("rope_theta (" + ropeTheta + ") must be > 0");
    }
    eosTokenIds = List.copyOf(eosTokenIds);
    if (moe.isPresent() != architecture.mixtureOfExperts()) {
      throw new ModelLoadException(String.format("architecture %s %s mixture-of-experts settings, got %s",
          architecture.className(), architecture.mixtureOfExperts() ? "needs" : "takes no", moe));
    }
    if (useQkNorm && architecture != Architecture.GLM4_MOE) {
      throw new ModelLoadException("use_qk_norm (true) is only supported for Glm4MoeForCausalLM, got "
          + architecture.className());
    }
  }

  /** A dense GLM or GLM4 config: no q/k norms, no experts. */
  public ModelConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
      int numKvHeads, int headDim, int vocabSize, double rmsNormEps, double ropeTheta, int rotaryDim,
      int maxPositionEmbeddings, boolean attentionBias, boolean tieWordEmbeddings, String dtype,
      List<Integer> eosTokenIds) {
    this(architecture, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize,
        rmsNormEps, ropeTheta, rotaryDim, maxPositionEmbeddings, attentionBias, tieWordEmbeddings, dtype,
        eosTokenIds, false, Optional.empty());
  }

  private static void positive(String field, int value) {
    if (value <= 0) {
      throw new ModelLoadException(field + " (" + value + ") must be > 0");
    }
  }

  public int qSize() {
    return numHeads * headDim;
  }

  public int kvSize() {
    return numKvHeads * headDim;
  }

  /** Reads {@code dir/config.json}. */
  public static ModelConfig load(Path dir) {
    Path file = dir.resolve("config.json");
    JsonObject o;
    try {
      o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
    }
    try {
      return fromJson(o);
    } catch (ModelLoadException e) {
      throw new ModelLoadException(file + ": " + e.getMessage(), e);
    }
  }

  public static ModelConfig fromJson(JsonObject o) {
    String archName = o.has("architectures") && o.getAsJsonArray("architectures").size() > 0
        ? o.getAsJsonArray("architectures").get(0).getAsString()
        : "(none)";
    Architecture arch = Architecture.fromClassName(archName).orElseThrow(() -> new ModelLoadException(
        "architecture " + archName + " is not supported; supported: " + Architecture.supportedClassNames()));
    JsonObject rope = o.has("rope_parameters") && o.get("rope_parameters").isJsonObject()
        ? o.getAsJsonObject("rope_parameters") : new JsonObject();
    if (rope.has("rope_type") && !rope.get("rope_type").getAsString().equals("default")) {
      throw new ModelLoadException("rope_parameters.rope_type " + rope.get("rope_type").getAsString()
          + " is not supported (default)");
    }
    double theta = number(rope, "rope_theta", number(o, "rope_theta", 10000.0));
    double partial = number(rope, "partial_rotary_factor", number(o, "partial_rotary_factor", 0.5));
    int hidden = integer(o, "hidden_size");
    int heads = integer(o, "num_attention_heads");
    int headDim = o.has("head_dim") && !o.get("head_dim").isJsonNull() ? o.get("head_dim").getAsInt() : hidden / heads;
    String dtype = o.has("dtype") ? o.get("dtype").getAsString()
        : o.has("torch_dtype") ? o.get("torch_dtype").getAsString() : "float32";
    return new ModelConfig(
        arch,
        hidden,
        integer(o, "intermediate_size"),
        integer(o, "num_hidden_layers"),
        heads,
        o.has("num_key_value_heads") ? o.get("num_key_value_heads").getAsInt() : heads,
        headDim,
        integer(o, "vocab_size"),
        number(o, "rms_norm_eps", 1e-5),
        theta,
        (int) (headDim * partial),
        o.has("max_position_embeddings") ? o.get("max_position_embeddings").getAsInt() : 8192,
        o.has("attention_bias") ? o.get("attention_bias").getAsBoolean() : arch != Architecture.GLM4_MOE,
        o.has("tie_word_embeddings") && o.get("tie_word_embeddings").getAsBoolean(),
        dtype,
        intList(o.get("eos_token_id")),
        arch == Architecture.GLM4_MOE && o.has("use_qk_norm") && !o.get("use_qk_norm").isJsonNull()
            && o.get("use_qk_norm").getAsBoolean(),
        arch.mixtureOfExperts() ? Optional.of(MoeConfig.fromJson(o)) : Optional.empty());
  }

  private static int integer(JsonObject o, String key) {
    if (!o.has(key) || o.get(key).isJsonNull()) {
      throw new ModelLoadException("field " + key + " is missing");
    }
    return o.get(key).getAsInt();
  }

  private static double number(JsonObject o, String key, double fallback) {
    return o.has(key) && !o.get(key).isJsonNull() ? o.get(key).getAsDouble() : fallback;
  }

  static List<Integer> intList(JsonElement e) {
    List<Integer> out = new ArrayList<>();
    if (e == null || e.isJsonNull()) {
      return out;
    }
    if (e.isJsonArray()) {
      e.getAsJsonArray().forEach(x -> out.add(x.getAsInt()));
    } else {
      out.add(e.getAsInt());
    }
    return out;
  }
}

package io.autoglm.model;

import com.google.gson.JsonObject;
import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.Fp8Scheme;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The decoder's shape, read from {@code config.json} in both the transformers 4.x form (top-level
 * {@code rope_theta}, {@code partial_rotary_factor}, {@code torch_dtype}) and the 5.x form ({@code rope_parameters},
 * {@code dtype}).
 *
 * <p>Every field is type- and range-checked ({@link ConfigReader}); an error names the field, what it must be and
 * the value as written. A field that is absent takes a default only where transformers' config class
 * ({@code GlmConfig}, {@code Glm4Config}, {@code Glm4MoeConfig}, 5.x) has the same default; the fields that give the
 * tensors their shapes are required, since a default there could only describe some other checkpoint:
 *
 * <table>
 *   <caption>config.json fields and their defaults</caption>
 *   <tr><th>field</th><th>GLM, GLM4</th><th>GLM4-MoE</th></tr>
 *   <tr><td>architectures, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 *       vocab_size</td><td colspan="2">required</td></tr>
 *   <tr><td>n_routed_experts, num_experts_per_tok, moe_intermediate_size</td><td>not read</td>
 *       <td>required ({@link MoeConfig})</td></tr>
 *   <tr><td>num_key_value_heads</td><td>2</td><td>8</td></tr>
 *   <tr><td>head_dim</td><td>128</td><td>hidden_size / num_attention_heads</td></tr>
 *   <tr><td>rms_norm_eps</td><td>1.5625e-07</td><td>1e-05</td></tr>
 *   <tr><td>max_position_embeddings</td><td colspan="2">131072</td></tr>
 *   <tr><td>attention_bias</td><td>true</td><td>false</td></tr>
 *   <tr><td>tie_word_embeddings</td><td colspan="2">false</td></tr>
 *   <tr><td>rope_parameters.rope_theta, else rope_theta</td><td colspan="2">10000.0</td></tr>
 *   <tr><td>rope_parameters.partial_rotary_factor, else partial_rotary_factor</td><td colspan="2">0.5</td></tr>
 *   <tr><td>rope_parameters.rope_type (also rope_scaling's rope_type or type)</td>
 *       <td colspan="2">"default", the only one supported</td></tr>
 *   <tr><td>eos_token_id (absent or null)</td><td>[151329, 151336, 151338]</td><td>none</td></tr>
 *   <tr><td>use_qk_norm</td><td>not read</td><td>false</td></tr>
 *   <tr><td>dtype, else torch_dtype (absent or null)</td><td colspan="2">"float32" (informational)</td></tr>
 *   <tr><td>quantization_config (absent or null)</td><td colspan="2">none; else block-scaled FP8 only
 *       ({@link QuantizationConfig})</td></tr>
 * </table>
 *
 * <p>An explicit {@code null} counts as absent only for eos_token_id, rope_parameters, rope_scaling and the dtype
 * fields, which transformers declares optional; elsewhere null is an error, as it is for transformers' typed fields.
 * The rotary dim is {@code int(head_dim × partial_rotary_factor)}, truncated as transformers truncates it.
 *
 * @param rotaryDim leading channels of each head that RoPE rotates: {@code headDim × partial_rotary_factor}
 * @param useQkNorm whether attention RMS-normalises each query and key head before RoPE ({@code use_qk_norm},
 *     GLM4-MoE only)
 * @param moe the mixture-of-experts settings; present exactly for {@link Architecture#mixtureOfExperts()}
 * @param quantization how the checkpoint's weights are quantized ({@code quantization_config}, read by
 *     {@link QuantizationConfig}); empty for an unquantized checkpoint
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
    Optional<MoeConfig> moe,
    Optional<Fp8Scheme> quantization) {

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
    if (!(rmsNormEps > 0) || Double.isInfinite(rmsNormEps)) {
      throw new ModelLoadException("rms_norm_eps (" + rmsNormEps + ") must be finite and > 0");
    }
    if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
      throw new ModelLoadException("rope_theta (" + ropeTheta + ") must be finite and > 0");
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

  /** An unquantized checkpoint's config. */
  public ModelConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
      int numKvHeads, int headDim, int vocabSize, double rmsNormEps, double ropeTheta, int rotaryDim,
      int maxPositionEmbeddings, boolean attentionBias, boolean tieWordEmbeddings, String dtype,
      List<Integer> eosTokenIds, boolean useQkNorm, Optional<MoeConfig> moe) {
    this(architecture, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize,
        rmsNormEps, ropeTheta, rotaryDim, maxPositionEmbeddings, attentionBias, tieWordEmbeddings, dtype,
        eosTokenIds, useQkNorm, moe, Optional.empty());
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

  /** Reads {@code dir/config.json}; every error message starts with the file's path. */
  public static ModelConfig load(Path dir) {
    JsonObject o = ConfigReader.readObject(dir, "config.json");
    try {
      return fromJson(o);
    } catch (ModelLoadException e) {
      throw new ModelLoadException(dir.resolve("config.json") + ": " + e.getMessage(), e);
    }
  }

  /** The glm-4 chat models' eos ids, GlmConfig's and Glm4Config's default. */
  private static final List<Integer> GLM_EOS = List.of(151329, 151336, 151338);

  public static ModelConfig fromJson(JsonObject json) {
    ConfigReader o = new ConfigReader(json, "", false);
    String archName = o.firstString("architectures").orElseThrow(() -> new ModelLoadException(
        "architectures is missing (required: a list naming one of " + Architecture.supportedClassNames() + ")"));
    Architecture arch = Architecture.fromClassName(archName).orElseThrow(() -> new ModelLoadException(
        "architecture " + archName + " is not supported; supported: " + Architecture.supportedClassNames()));
    boolean moe = arch == Architecture.GLM4_MOE;
    ConfigReader rope = o.optionalObject("rope_parameters");
    ropeType(rope);
    ropeType(o.optionalObject("rope_scaling"));
    double theta = rope.optionalNumber("rope_theta", "a number > 0", v -> v > 0)
        .orElse(o.optionalNumber("rope_theta", "a number > 0", v -> v > 0).orElse(10000.0));
    double partial = rope.optionalNumber("partial_rotary_factor", "a number in (0, 1]", v -> v > 0 && v <= 1)
        .orElse(o.optionalNumber("partial_rotary_factor", "a number in (0, 1]", v -> v > 0 && v <= 1).orElse(0.5));
    int hidden = o.requiredInt("hidden_size", 1, "");
    int heads = o.requiredInt("num_attention_heads", 1, "");
    int headDim = o.optionalInt("head_dim", 1, moe ? hidden / heads : 128);
    String dtype = o.optionalString("dtype").or(() -> o.optionalString("torch_dtype")).orElse("float32");
    return new ModelConfig(
        arch,
        hidden,
        o.requiredInt("intermediate_size", 1, ""),
        o.requiredInt("num_hidden_layers", 1, ""),
        heads,
        o.optionalInt("num_key_value_heads", 1, moe ? 8 : 2),
        headDim,
        o.requiredInt("vocab_size", 1, ""),
        o.optionalNumber("rms_norm_eps", "a number > 0", v -> v > 0).orElse(moe ? 1e-5 : 1.5625e-07),
        theta,
        (int) (headDim * partial),
        o.optionalInt("max_position_embeddings", 1, 131072),
        o.optionalBoolean("attention_bias", !moe),
        o.optionalBoolean("tie_word_embeddings", false),
        dtype,
        o.optionalIntList("eos_token_id", 0).orElse(moe ? List.of() : GLM_EOS),
        moe && o.optionalBoolean("use_qk_norm", false),
        moe ? Optional.of(MoeConfig.fromJson(o)) : Optional.empty(),
        QuantizationConfig.read(o));
  }

  private static void ropeType(ConfigReader rope) {
    Optional<String> type = rope.optionalString("rope_type").or(() -> rope.optionalString("type"));
    if (type.isPresent() && !type.get().equals("default")) {
      throw new ModelLoadException("rope type " + type.get() + " is not supported (default)");
    }
  }
}

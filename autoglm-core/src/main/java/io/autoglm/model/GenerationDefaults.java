package io.autoglm.model;

import io.autoglm.safetensors.ModelFolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * What {@code generation_config.json} says, when present: the eos ids (GLM models have several) and the default
 * sampling settings. Each field is type- and range-checked ({@link ConfigReader}); null counts as unset, as
 * transformers' GenerationConfig writes unset fields.
 */
public record GenerationDefaults(
    List<Integer> eosTokenIds, boolean doSample, OptionalDouble temperature, OptionalDouble topP, OptionalInt topK,
    OptionalInt maxNewTokens) {

  public GenerationDefaults {
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  /** Reads {@code dir/generation_config.json}; falls back to config.json's eos ids when it is absent. */
  public static GenerationDefaults load(Path dir, ModelConfig config) {
    Path file = ModelFolder.file(dir, "generation_config.json");
    if (!Files.isRegularFile(file)) {
      return new GenerationDefaults(config.eosTokenIds(), false, OptionalDouble.empty(), OptionalDouble.empty(),
          OptionalInt.empty(), OptionalInt.empty());
    }
    ConfigReader o = new ConfigReader(ConfigReader.readObject(dir, "generation_config.json"),
        file + ": ", true);
    LinkedHashSet<Integer> eos = new LinkedHashSet<>(o.optionalIntList("eos_token_id", 0).orElse(List.of()));
    eos.addAll(config.eosTokenIds());
    return new GenerationDefaults(
        List.copyOf(eos),
        o.optionalBoolean("do_sample", false),
        o.optionalNumber("temperature", "a number >= 0", v -> v >= 0),
        o.optionalNumber("top_p", "a number in [0, 1]", v -> v >= 0 && v <= 1),
        o.optionalInt("top_k", 0),
        o.optionalInt("max_new_tokens", 0));
  }
}

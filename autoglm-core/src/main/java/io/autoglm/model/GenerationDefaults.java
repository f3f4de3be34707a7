package io.autoglm.model;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * What {@code generation_config.json} says, when present: the eos ids (GLM models have several) and the default
 * sampling settings.
 */
public record GenerationDefaults(
    List<Integer> eosTokenIds, boolean doSample, OptionalDouble temperature, OptionalDouble topP, OptionalInt topK,
    OptionalInt maxNewTokens) {

  public GenerationDefaults {
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  /** Reads {@code dir/generation_config.json}; falls back to config.json's eos ids when it is absent. */
  public static GenerationDefaults load(Path dir, ModelConfig config) {
    Path file = dir.resolve("generation_config.json");
    if (!Files.isRegularFile(file)) {
      return new GenerationDefaults(config.eosTokenIds(), false, OptionalDouble.empty(), OptionalDouble.empty(),
          OptionalInt.empty(), OptionalInt.empty());
    }
    JsonObject o;
    try {
      o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    } catch (IOException | RuntimeException e) {
      throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
    }
    LinkedHashSet<Integer> eos = new LinkedHashSet<>(ModelConfig.intList(o.get("eos_token_id")));
    eos.addAll(config.eosTokenIds());
    return new GenerationDefaults(
        List.copyOf(eos),
        o.has("do_sample") && o.get("do_sample").getAsBoolean(),
        opt(o, "temperature").map(OptionalDouble::of).orElse(OptionalDouble.empty()),
        opt(o, "top_p").map(OptionalDouble::of).orElse(OptionalDouble.empty()),
        opt(o, "top_k").map(d -> OptionalInt.of(d.intValue())).orElse(OptionalInt.empty()),
        opt(o, "max_new_tokens").map(d -> OptionalInt.of(d.intValue())).orElse(OptionalInt.empty()));
  }

  private static Optional<Double> opt(JsonObject o, String key) {
    return o.has(key) && !o.get(key).isJsonNull() ? Optional.of(o.get(key).getAsDouble()) : Optional.empty();
  }
}

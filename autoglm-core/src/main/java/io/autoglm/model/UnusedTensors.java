package io.autoglm.model;

import io.autoglm.safetensors.Fp8Scheme;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The checkpoint tensors a config leaves unread: stored, but neither part of the model {@link CheckpointLayout}
 * describes nor among those transformers also drops without a word. Those are:
 * <ul>
 *   <li>the multi-token-prediction layers {@code model.layers.{num_hidden_layers + j}.*},
 *       {@code j < num_nextn_predict_layers} (in the layout, and never loaded);
 *   <li>for GLM4-MoE, {@code model.layers.46.*} and {@code model.layers.92.*} past the last decoder layer
 *       ({@code Glm4MoePreTrainedModel._keys_to_ignore_on_load_unexpected}: GLM-4.5-Air's and GLM-4.5's MTP layer);
 *   <li>rotary {@code inv_freq} buffers ({@code *.rotary_emb.inv_freq}), which transformers recomputes.
 * </ul>
 * With tied embeddings a stored {@code lm_head.weight} counts as used: {@link GlmModel} loads it; so does the
 * block scale {@code X_scale_inv} of a used FP8 weight {@code X}.
 */
public final class UnusedTensors {
  /** How many names a warning lists before it gives the count of the rest. */
  static final int NAMED = 5;

  private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\..*");

  private UnusedTensors() {}

  /** The unused ones of {@code stored}, in its order. */
  public static List<String> of(ModelConfig c, Collection<String> stored) {
    Set<String> used = CheckpointLayout.tensors(c).keySet();
    List<String> unused = new ArrayList<>();
    for (String name : stored) {
      String weight = name.endsWith(Fp8Scheme.SCALE_SUFFIX)
          ? name.substring(0, name.length() - Fp8Scheme.SCALE_SUFFIX.length()) : name;
      if (!used.contains(weight) && !ignoredByTransformers(c, weight)
          && !(c.tieWordEmbeddings() && weight.equals("lm_head.weight"))) {
        unused.add(name);
      }
    }
    return unused;
  }

  /** A sentence for the log naming the first {@value #NAMED} unused tensors and the count; empty when none. */
  public static Optional<String> warning(ModelConfig c, Collection<String> stored, Object checkpoint) {
    List<String> unused = of(c, stored);
    if (unused.isEmpty()) {
      return Optional.empty();
    }
    String named = String.join(", ", unused.subList(0, Math.min(NAMED, unused.size())));
    String more = unused.size() > NAMED ? " and " + (unused.size() - NAMED) + " more" : "";
    boolean pastLastLayer = unused.stream().anyMatch(n -> layer(n) >= c.numLayers());
    return Optional.of(String.format("checkpoint %s holds %d tensor%s that config.json leaves unused, not loaded: "
        + "%s%s%s", checkpoint, unused.size(), unused.size() == 1 ? "" : "s", named, more,
        pastLastLayer ? "; some lie past the last layer: is num_hidden_layers (" + c.numLayers() + ") right?" : ""));
  }

  private static boolean ignoredByTransformers(ModelConfig c, String name) {
    if (name.endsWith(".rotary_emb.inv_freq")) {
      return true;
    }
    int layer = layer(name);
    return c.architecture() == Architecture.GLM4_MOE && layer >= c.numLayers() && (layer == 46 || layer == 92);
  }

  /** The decoder layer a tensor belongs to, or -1. */
  private static int layer(String name) {
    Matcher m = LAYER.matcher(name);
    if (!m.matches() || m.group(1).length() > 9) {
      return -1;
    }
    return Integer.parseInt(m.group(1));
  }
}

package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.autoglm.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link MoeRouter} against transformers 5.17's own routing: {@code routing.json} of a fixture holds, for every MoE
 * layer and every teacher-forced token, the router logits transformers computed and the experts (in torch.topk's
 * order) and weights it chose from them. Fed the same logits, the router must choose the same experts in the same
 * order, and the same weights (to fp32 rounding). {@code glm4moe-grouped-ties} is built so that most of its tokens'
 * choices hang on exact ties and on the -inf mask of dropped groups.
 */
class MoeRouterTransformersTest {
  @ParameterizedTest
  @ValueSource(strings = {"glm4moe-grouped-ties", "glm4moe-gqa12"})
  void choosesWhatTransformersChoseIncludingTies(String name) throws IOException {
    Path dir = Path.of("src/test/resources/fixtures", name);
    MoeRouter router = ModelConfig.load(dir).moe().orElseThrow().router();
    JsonObject layers = JsonParser.parseString(Files.readString(dir.resolve("routing.json"))).getAsJsonObject()
        .getAsJsonObject("layers");
    int tokens = 0;
    int mismatched = 0;
    double worstWeight = 0;
    List<String> first = new ArrayList<>();
    for (Map.Entry<String, JsonElement> layer : layers.entrySet()) {
      float[] bias = floats(layer.getValue().getAsJsonObject().getAsJsonArray("correction_bias"));
      int prompt = 0;
      for (JsonElement p : layer.getValue().getAsJsonObject().getAsJsonArray("prompts")) {
        JsonArray logits = p.getAsJsonObject().getAsJsonArray("router_logits");
        JsonArray indices = p.getAsJsonObject().getAsJsonArray("indices");
        JsonArray weights = p.getAsJsonObject().getAsJsonArray("weights");
        for (int t = 0; t < logits.size(); t++) {
          MoeRouter.Choice c = router.route(floats(logits.get(t).getAsJsonArray()), bias);
          int[] want = ints(indices.get(t).getAsJsonArray());
          float[] wantWeights = floats(weights.get(t).getAsJsonArray());
          tokens++;
          if (!Arrays.equals(want, c.experts())) {
            mismatched++;
            if (first.size() < 5) {
              first.add(String.format("layer %s prompt %d token %d: transformers %s, router %s", layer.getKey(),
                  prompt, t, Arrays.toString(want), Arrays.toString(c.experts())));
            }
            continue;
          }
          for (int j = 0; j < want.length; j++) {
            worstWeight = Math.max(worstWeight, Math.abs(c.weights()[j] - wantWeights[j]));
          }
        }
        prompt++;
      }
    }
    System.out.printf("%s: %d routed tokens, %d differ from transformers; max |Δweight| %.3g%n", name, tokens,
        mismatched, worstWeight);
    assertTrue(tokens > 300, name + ": only " + tokens + " routed tokens in routing.json");
    assertEquals(0, mismatched, name + ": tokens routed differently from transformers, first ones: " + first);
    assertTrue(worstWeight <= 1e-6, name + ": routing weights differ by " + worstWeight);
  }

  private static float[] floats(JsonArray a) {
    float[] out = new float[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) a.get(i).getAsDouble(); // float32 values written exactly as doubles
    }
    return out;
  }

  private static int[] ints(JsonArray a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsInt();
    }
    return out;
  }
}

package io.autoglm.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link TorchTopK} against torch 2.11's own {@code torch.topk(rows, k, dim=-1, sorted=False)} on the CPU
 * ({@code topk/torch_topk_golden.json}, made by {@code tools/make_fixtures_17.py}): rows of 4 to 512 values full of
 * exact ties (masked zeros among a few scores, few distinct values, 0.0 mixed with -0.0, all equal, sorted runs),
 * k from 1 to 8, covering both of torch's paths (nth_element, and partial_sort when k·64 ≤ n).
 */
class TorchTopKTest {
  static final Path GOLDEN = Path.of("src/test/resources/topk/torch_topk_golden.json");

  record Case(float[] values, int k, int[] indices) {}

  static List<Case> golden() throws IOException {
    JsonObject root = JsonParser.parseString(Files.readString(GOLDEN)).getAsJsonObject();
    List<Case> cases = new ArrayList<>();
    for (JsonElement e : root.getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      var v = c.getAsJsonArray("values");
      float[] values = new float[v.size()];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) v.get(i).getAsDouble(); // the JSON holds each float32 exactly, as a double
      }
      var x = c.getAsJsonArray("indices");
      int[] indices = new int[x.size()];
      for (int i = 0; i < indices.length; i++) {
        indices[i] = x.get(i).getAsInt();
      }
      cases.add(new Case(values, c.get("k").getAsInt(), indices));
    }
    return cases;
  }

  @Test
  void everyGoldenCaseMatchesTorchIndexForIndex() throws IOException {
    List<Case> cases = golden();
    int matched = 0;
    int decidedByTies = 0;
    List<String> failures = new ArrayList<>();
    for (Case c : cases) {
      int[] got = TorchTopK.largest(c.values(), c.k());
      if (Arrays.equals(got, c.indices())) {
        matched++;
      } else if (failures.size() < 5) {
        failures.add(String.format("values %s k %d: torch %s, got %s", Arrays.toString(c.values()), c.k(),
            Arrays.toString(c.indices()), Arrays.toString(got)));
      }
      decidedByTies += Arrays.equals(sortedLowestIndexFirst(c.values(), c.k()), sorted(c.indices())) ? 0 : 1;
    }
    System.out.printf("torch.topk golden: %d of %d cases match (%d where lowest-index-first picks another set)%n",
        matched, cases.size(), decidedByTies);
    assertEquals(cases.size(), matched, "cases that differ from torch, first ones: " + failures);
    assertTrue(cases.size() > 1000, "golden holds " + cases.size() + " cases");
    assertTrue(decidedByTies > 100, "only " + decidedByTies + " golden cases hang on the tie rule");
  }

  @Test
  void theIssuesExamples() {
    assertArrayEquals(new int[] {5, 4, 1}, TorchTopK.largest(new float[] {0, 0, 0, -0.0016f, 0.19f, 0.73f}, 3));
    assertArrayEquals(new int[] {1, 2, 5}, TorchTopK.largest(new float[] {-0.01f, 0.2f, 0.7f, 0, 0, 0}, 3));
  }

  @Test
  void nanComesFirstAsInTorch() {
    int[] got = TorchTopK.largest(new float[] {1f, Float.NaN, 3f, 2f}, 2);
    Arrays.sort(got);
    assertArrayEquals(new int[] {1, 2}, got, "topk_impl_loop ranks NaN above every number");
  }

  @Test
  void rejectsKOutsideTheRow() {
    var e = assertThrows(IllegalArgumentException.class, () -> TorchTopK.largest(new float[3], 4));
    assertTrue(e.getMessage().contains("k (4)"), e.getMessage());
    assertEquals(0, TorchTopK.largest(new float[3], 0).length);
  }

  /** The k largest, ties to the lower index: the rule this router used before following torch. */
  private static int[] sortedLowestIndexFirst(float[] values, int k) {
    Integer[] order = new Integer[values.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> values[a] > values[b] ? -1 : values[a] < values[b] ? 1 : Integer.compare(a, b));
    int[] out = new int[k];
    for (int i = 0; i < k; i++) {
      out[i] = order[i];
    }
    return sorted(out);
  }

  private static int[] sorted(int[] a) {
    int[] b = a.clone();
    Arrays.sort(b);
    return b;
  }
}

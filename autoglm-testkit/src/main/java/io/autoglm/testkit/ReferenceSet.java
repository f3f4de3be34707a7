package io.autoglm.testkit;

import io.autoglm.ModelLoadException;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.SafetensorsFile;
import io.autoglm.safetensors.TensorSlice;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' outputs for a checkpoint, in the fixtures' {@code reference.safetensors} format: for each prompt i,
 * {@code p{i}.input_ids} (T), {@code p{i}.logits} (T, V), {@code p{i}.greedy} (G) and {@code p{i}.greedy_logits}
 * (G, V).
 */
public record ReferenceSet(List<Prompt> prompts) {

  /** One reference prompt with its fp32 logits and its greedy continuation. */
  public record Prompt(int index, int[] inputIds, float[][] logits, int[] greedy, float[][] greedyLogits) {
    /** prompt + greedy[0..G-2]: feeding it teacher-forces the whole greedy continuation. */
    public int[] teacherForced() {
      int[] all = new int[inputIds.length + greedy.length - 1];
      System.arraycopy(inputIds, 0, all, 0, inputIds.length);
      System.arraycopy(greedy, 0, all, inputIds.length, greedy.length - 1);
      return all;
    }

    /** Top-1 minus top-2 of the reference greedy logits at step {@code step}. */
    public float margin(int step) {
      float best = Float.NEGATIVE_INFINITY;
      float second = Float.NEGATIVE_INFINITY;
      for (float v : greedyLogits[step]) {
        if (v > best) {
          second = best;
          best = v;
        } else if (v > second) {
          second = v;
        }
      }
      return best - second;
    }
  }

  public ReferenceSet {
    prompts = List.copyOf(prompts);
  }

  public static ReferenceSet load(Path file) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      List<Prompt> prompts = new ArrayList<>();
      for (int i = 0; f.contains("p" + i + ".input_ids"); i++) {
        String p = "p" + i + ".";
        prompts.add(new Prompt(i, ints(f.tensor(p + "input_ids")), matrix(f.tensor(p + "logits")),
            ints(f.tensor(p + "greedy")), matrix(f.tensor(p + "greedy_logits"))));
      }
      if (prompts.isEmpty()) {
        throw new ModelLoadException("reference file " + file + " holds no p0.input_ids");
      }
      return new ReferenceSet(prompts);
    }
  }

  private static int[] ints(TensorSlice t) {
    int[] out = new int[(int) t.elementCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = switch (t.dtype()) {
        case I64 -> Math.toIntExact(t.data().getLong(i * 8));
        case I32 -> t.data().getInt(i * 4);
        default -> throw new ModelLoadException("reference tensor " + t.name() + " has dtype " + t.dtype() + ", expected I64");
      };
    }
    return out;
  }

  private static float[][] matrix(TensorSlice t) {
    if (t.dtype() != DType.F32 || t.shape().length != 2) {
      throw new ModelLoadException("reference tensor " + t.name() + " must be 2-D F32, got " + t);
    }
    float[][] out = new float[t.dim(0)][t.dim(1)];
    for (int r = 0; r < out.length; r++) {
      for (int c = 0; c < out[r].length; c++) {
        out[r][c] = t.data().getFloat((r * out[r].length + c) * 4);
      }
    }
    return out;
  }
}

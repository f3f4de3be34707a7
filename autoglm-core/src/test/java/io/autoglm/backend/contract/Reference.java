package io.autoglm.backend.contract;

import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.SafetensorsFile;
import io.autoglm.safetensors.TensorSlice;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' fp32 logits of a fixture's prompts ({@code reference.safetensors}: {@code p{i}.input_ids} (T) and
 * {@code p{i}.logits} (T, V)), read here so that the contract depends on the safetensors reader only.
 */
record Reference(List<Prompt> prompts) {
  /** One prompt and the reference logits of each of its positions. */
  record Prompt(int index, int[] inputIds, float[][] logits) {}

  static Reference load(Path file) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      List<Prompt> prompts = new ArrayList<>();
      for (int i = 0; f.contains("p" + i + ".input_ids"); i++) {
        prompts.add(new Prompt(i, ints(f.tensor("p" + i + ".input_ids")), matrix(f.tensor("p" + i + ".logits"))));
      }
      if (prompts.isEmpty()) {
        throw new IllegalArgumentException("reference file " + file + " holds no p0.input_ids");
      }
      return new Reference(List.copyOf(prompts));
    }
  }

  /** ‖got[from..from + n) − want‖ / ‖want‖ over all elements, n = want's rows. */
  static double relativeError(float[][] got, int from, float[][] want) {
    if (got.length < from + want.length) {
      throw new IllegalArgumentException(String.format("%d rows from row %d of %d", want.length, from, got.length));
    }
    double diff = 0;
    double norm = 0;
    for (int r = 0; r < want.length; r++) {
      if (got[from + r].length != want[r].length) {
        throw new IllegalArgumentException(String.format("row %d has %d columns, the reference %d", from + r,
            got[from + r].length, want[r].length));
      }
      for (int c = 0; c < want[r].length; c++) {
        double d = got[from + r][c] - want[r][c];
        diff += d * d;
        norm += (double) want[r][c] * want[r][c];
      }
    }
    return Math.sqrt(diff / norm);
  }

  private static int[] ints(TensorSlice t) {
    int[] out = new int[(int) t.elementCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = switch (t.dtype()) {
        case I64 -> Math.toIntExact(t.data().getLong(i * 8));
        case I32 -> t.data().getInt(i * 4);
        default -> throw new IllegalArgumentException("reference tensor " + t.name() + " has dtype " + t.dtype()
            + ", expected I64 or I32");
      };
    }
    return out;
  }

  private static float[][] matrix(TensorSlice t) {
    if (t.dtype() != DType.F32 || t.shape().length != 2) {
      throw new IllegalArgumentException("reference tensor " + t.name() + " must be 2-D F32, got " + t);
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

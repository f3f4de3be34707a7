package io.autoglm.safetensors;

import io.autoglm.ModelLoadException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * The checks that make a checkpoint's FP8 tensors loadable, from the shard headers alone, when it opens: every
 * {@link DType#F8_E4M3} tensor is 2-D, has its {@code <name>_scale_inv} (F32 or BF16, 2-D, of shape
 * {@code [ceil(rows / blockRows), ceil(cols / blockCols)]} for the config's {@link Fp8Scheme}) and is not in
 * {@code modules_to_not_convert}; every {@code *_scale_inv} belongs to an F8_E4M3 tensor; and there are F8 tensors
 * only when config.json has a {@code quantization_config}. The scale values are checked when the weight is mapped
 * ({@link #withScale}): finite and {@code >= 0} (zero is what a quantizer may write for an all-zero block).
 */
final class Fp8Tensors {
  private Fp8Tensors() {}

  static void check(Map<String, SafetensorsFile> byTensor, Optional<Fp8Scheme> scheme, Path dir) {
    for (Map.Entry<String, SafetensorsFile> e : byTensor.entrySet()) {
      String name = e.getKey();
      HeaderParser.Tensor t = e.getValue().entry(name);
      if (name.endsWith(Fp8Scheme.SCALE_SUFFIX)) {
        String base = name.substring(0, name.length() - Fp8Scheme.SCALE_SUFFIX.length());
        SafetensorsFile baseFile = byTensor.get(base);
        if (baseFile == null || !baseFile.entry(base).dtype().isFp8()) {
          throw new ModelLoadException(String.format("tensor %s in %s is a block scale, but its weight %s %s; "
              + "expected an F8_E4M3 weight beside each *%s", name, e.getValue().file(), base,
              baseFile == null ? "is missing" : "has dtype " + baseFile.entry(base).dtype(), Fp8Scheme.SCALE_SUFFIX));
        }
      } else if (t.dtype().isFp8()) {
        checkWeight(name, t, e.getValue().file(), byTensor, scheme.orElseThrow(() -> new ModelLoadException(
            String.format("tensor %s in %s has dtype F8_E4M3, but %s/config.json has no quantization_config; an "
                + "FP8 checkpoint needs {\"quant_method\": \"fp8\", \"weight_block_size\": [rows, cols]}", name,
                e.getValue().file(), dir))));
      }
    }
  }

  private static void checkWeight(String name, HeaderParser.Tensor t, Path file, Map<String, SafetensorsFile> byTensor,
      Fp8Scheme scheme) {
    if (t.shape().length != 2) {
      throw new ModelLoadException(String.format("tensor %s in %s has dtype F8_E4M3 and shape %s; expected a 2-D "
          + "(rows, cols) weight", name, file, Arrays.toString(t.shape())));
    }
    if (scheme.keepsUnquantized(name)) {
      throw new ModelLoadException(String.format("tensor %s in %s has dtype F8_E4M3, but quantization_config."
          + "modules_to_not_convert %s says its module stays unquantized", name, file, scheme.modulesToNotConvert()));
    }
    String scaleName = name + Fp8Scheme.SCALE_SUFFIX;
    SafetensorsFile scaleFile = byTensor.get(scaleName);
    if (scaleFile == null) {
      throw new ModelLoadException(String.format("tensor %s in %s has dtype F8_E4M3 but its scale %s is missing; "
          + "expected an F32 or BF16 tensor of shape %s", name, file, scaleName,
          Arrays.toString(scaleShape(t.shape(), scheme))));
    }
    HeaderParser.Tensor s = scaleFile.entry(scaleName);
    if (s.dtype() != DType.F32 && s.dtype() != DType.BF16) {
      throw new ModelLoadException(String.format("scale %s in %s has dtype %s; expected F32 or BF16", scaleName,
          scaleFile.file(), s.dtype()));
    }
    long[] expected = scaleShape(t.shape(), scheme);
    if (!Arrays.equals(s.shape(), expected)) {
      throw new ModelLoadException(String.format("scale %s in %s has shape %s; expected %s: weight %s in %d×%d "
          + "blocks (quantization_config.weight_block_size [%d, %d])", scaleName, scaleFile.file(),
          Arrays.toString(s.shape()), Arrays.toString(expected), Arrays.toString(t.shape()), scheme.blockRows(),
          scheme.blockCols(), scheme.blockRows(), scheme.blockCols()));
    }
  }

  static long[] scaleShape(long[] shape, Fp8Scheme scheme) {
    return new long[] {ceilDiv(shape[0], scheme.blockRows()), ceilDiv(shape[1], scheme.blockCols())};
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  /** The weight with its scale attached, after checking every scale is finite and >= 0. */
  static TensorSlice withScale(String name, Path file, long[] shape, ByteBuffer data, TensorSlice scaleInv,
      Fp8Scheme scheme) {
    int cols = scaleInv.dim(1);
    for (int i = 0; i < scaleInv.elementCount(); i++) {
      float v = BlockScale.value(scaleInv, i);
      if (!(v >= 0) || Float.isInfinite(v)) {
        throw new ModelLoadException(String.format("scale %s in %s holds %s at block (%d, %d); expected finite "
            + "scales >= 0", scaleInv.name(), scaleInv.file(), v, i / cols, i % cols));
      }
    }
    return new TensorSlice(name, file, DType.F8_E4M3, shape, data,
        Optional.of(new BlockScale(scaleInv, scheme.blockRows(), scheme.blockCols())));
  }
}

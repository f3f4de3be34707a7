package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.WeightSource;
import io.autoglm.safetensors.BlockScale;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A checkpoint's weights with its decoder linears quantized on the host ({@link Fp8Codec}, 128×128 blocks; the
 * tensors the CUDA backend's quantization at load takes, each rounded to bf16 first as the device stores it), served
 * either as an FP8 checkpoint serves them (F8_E4M3 + F32 block scales) or dequantized to F32 (e4m3 × scale in fp32,
 * exact): the CPU backend's dequantized reference for the same FP8 model. Every other tensor passes through.
 */
final class Fp8Source implements WeightSource {
  private final WeightSource base;
  private final Set<String> linear;
  private final boolean dequantized;
  private int quantized;

  /** {@code c}: the checkpoint's config, whose {@link CheckpointLayout#linearWeights} are the candidates. */
  Fp8Source(WeightSource base, ModelConfig c, boolean dequantized) {
    this.base = base;
    this.linear = CheckpointLayout.linearWeights(c);
    this.dequantized = dequantized;
  }

  @Override
  public boolean contains(String name) {
    return base.contains(name);
  }

  @Override
  public List<TensorSlice> load(String name, long... fullShape) {
    List<TensorSlice> out = new ArrayList<>();
    for (TensorSlice p : base.load(name, fullShape)) {
      out.add(linear.contains(p.name()) && CudaDiagnosticsAccess.fp8Quantizable(p.shape(), p.dtype()) ? quantize(p)
          : p);
    }
    return out;
  }

  /** How many tensors were quantized so far. */
  int quantized() {
    return quantized;
  }

  private TensorSlice quantize(TensorSlice p) {
    int rows = Math.toIntExact(p.shape()[0]);
    int cols = Math.toIntExact(p.shape()[1]);
    float[] w = new float[Math.multiplyExact(rows, cols)];
    Widening.toFloat32(p, 0, w.length, FloatBuffer.wrap(w));
    for (int i = 0; i < w.length; i++) {
      w[i] = Float.intBitsToFloat((Widening.floatToBf16(w[i]) & 0xffff) << 16);
    }
    Fp8Codec.Quantized q = Fp8Codec.quantize(w, rows, cols, 128);
    quantized++;
    if (dequantized) {
      ByteBuffer f = ByteBuffer.allocateDirect(4 * w.length).order(ByteOrder.LITTLE_ENDIAN);
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
          f.putFloat(q.dequantized(r, c));
        }
      }
      return new TensorSlice(p.name(), p.file(), DType.F32, p.shape(), f.flip());
    }
    ByteBuffer s = ByteBuffer.allocateDirect(4 * q.scales().length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : q.scales()) {
      s.putFloat(v);
    }
    long[] scaleShape = {(rows + 127) / 128, (cols + 127) / 128};
    TensorSlice scale = new TensorSlice(p.name() + "_scale_inv", p.file(), DType.F32, scaleShape, s.flip());
    ByteBuffer data = ByteBuffer.allocateDirect(q.q().length);
    data.put(q.q()).flip();
    return new TensorSlice(p.name(), p.file(), DType.F8_E4M3, p.shape(), data,
        Optional.of(new BlockScale(scale, 128, 128)));
  }

  @Override
  public String toString() {
    return base + (dequantized ? " (FP8-quantized linears, dequantized to F32)" : " (FP8-quantized linears)");
  }
}

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
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Random bf16 weights for every tensor of a config, served from host memory with no checkpoint file: a
 * GLM-4-32B-0414-shaped checkpoint (65 GB) does not fit the GPU machine's 64 GiB disk. Values as
 * {@link FastRandomCheckpoint} writes them: large tensors are slices, at a random offset, of one direct block of
 * uniform values (std 0.02) as long as the largest tensor plus 64 MiB; norm weights near 1 and biases near 0, drawn
 * per tensor. With {@code fp8}, the tensors that the CUDA backend's quantization at load would take (the decoder's
 * linears) are served as an FP8 checkpoint serves them instead: F8_E4M3 slices of a block of random e4m3 codes
 * (|code| <= 3.75, no NaN) with 128×128 block scales of 0.005 (|w| < 0.019), e.g. GLM-4.5-Air's ~110 GB.
 */
final class RandomWeights implements WeightSource {
  private static final int JITTER_BYTES = 64 << 20;

  private final Map<String, long[]> shapes;
  private final java.util.Set<String> linear; // CheckpointLayout.linearWeights
  private final ByteBuffer block; // (blockBytes / 2) bf16, little-endian
  private final ByteBuffer codes; // random e4m3 codes for FP8 tensors, or null
  private final SplittableRandom random = new SplittableRandom(42);
  private long servedBytes;

  RandomWeights(ModelConfig c) {
    this(c, false);
  }

  RandomWeights(ModelConfig c, boolean fp8) {
    this.shapes = CheckpointLayout.tensors(c);
    this.linear = CheckpointLayout.linearWeights(c);
    this.codes = fp8 ? codes(shapes.entrySet().stream().filter(e -> fp8(linear, e.getKey(), e.getValue()))
        .mapToLong(e -> elements(e.getValue())).max().orElse(1), random) : null;
    long largest = shapes.entrySet().stream().filter(e -> !fp8 || !fp8(linear, e.getKey(), e.getValue()))
        .mapToLong(e -> elements(e.getValue())).max().orElse(1) * 2;
    if (largest + JITTER_BYTES > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(String.format("largest tensor (%d bytes) must be under %d bytes for one "
          + "direct buffer", largest, Integer.MAX_VALUE - JITTER_BYTES));
    }
    this.block = ByteBuffer.allocateDirect((int) largest + JITTER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    float scale = 0.02f * (float) Math.sqrt(3);
    for (int i = 0; i < JITTER_BYTES / 2; i++) {
      block.putShort(Widening.floatToBf16(scale * (float) (random.nextDouble() * 2 - 1)));
    }
    while (block.hasRemaining()) { // repeat the random 64 MiB over the rest of the block
      ByteBuffer src = block.duplicate().position(0).limit(Math.min(JITTER_BYTES, block.remaining()));
      block.put(src);
    }
  }

  @Override
  public boolean contains(String name) {
    return shapes.containsKey(name);
  }

  @Override
  public List<TensorSlice> load(String name, long... fullShape) {
    long[] shape = shapes.get(name);
    if (shape == null || !Arrays.equals(shape, fullShape)) {
      throw new IllegalArgumentException(String.format("tensor %s: expected shape %s, the config's layout has %s",
          name, Arrays.toString(fullShape), shape == null ? "no such tensor" : Arrays.toString(shape)));
    }
    long n = elements(shape);
    if (codes != null && fp8(linear, name, shape)) {
      servedBytes += n;
      int at = random.nextInt(JITTER_BYTES);
      ByteBuffer q = codes.duplicate().position(at).limit(at + (int) n);
      int sr = (int) ((shape[0] + 127) / 128);
      int sc = (int) ((shape[1] + 127) / 128);
      ByteBuffer s = ByteBuffer.allocateDirect(4 * sr * sc).order(ByteOrder.LITTLE_ENDIAN);
      while (s.hasRemaining()) {
        s.putFloat(0.005f);
      }
      TensorSlice scale = new TensorSlice(name + "_scale_inv", Path.of("random-weights"), DType.F32,
          new long[] {sr, sc}, s.flip());
      return List.of(new TensorSlice(name, Path.of("random-weights"), DType.F8_E4M3, shape, q,
          Optional.of(new BlockScale(scale, 128, 128))));
    }
    servedBytes += 2 * n;
    boolean norm = name.endsWith("norm.weight");
    if (norm || name.endsWith(".bias")) {
      ByteBuffer small = ByteBuffer.allocateDirect((int) (2 * n)).order(ByteOrder.LITTLE_ENDIAN);
      for (long i = 0; i < n; i++) {
        float u = (float) (random.nextDouble() * 2 - 1);
        small.putShort(Widening.floatToBf16(norm ? 1 + 0.1f * u : 0.01f * u));
      }
      return List.of(slice(name, shape, small.flip()));
    }
    int at = 2 * random.nextInt(JITTER_BYTES / 2);
    return List.of(slice(name, shape, block.duplicate().position(at).limit(at + (int) (2 * n))));
  }

  /**
   * Whether the FP8 mode serves this tensor in FP8: what the CUDA backend's quantization at load takes, a linear
   * weight ({@code linear}: {@link CheckpointLayout#linearWeights}) of a shape its FP8 kernels take.
   */
  static boolean fp8(java.util.Set<String> linear, String name, long[] shape) {
    return linear.contains(name) && CudaDiagnosticsAccess.fp8Quantizable(shape, DType.BF16);
  }

  /** A direct block of random e4m3 codes, as long as the largest FP8 tensor plus 64 MiB. */
  private static ByteBuffer codes(long largest, SplittableRandom random) {
    if (largest + JITTER_BYTES > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(String.format("largest FP8 tensor (%d bytes) must be under %d bytes",
          largest, Integer.MAX_VALUE - JITTER_BYTES));
    }
    ByteBuffer b = ByteBuffer.allocateDirect((int) largest + JITTER_BYTES);
    for (int i = 0; i < JITTER_BYTES; i++) {
      int r = random.nextInt();
      b.put((byte) ((r & 0x80) | ((r >>> 8) & 0x7fff) % 0x48)); // exponent field <= 8: |code| <= 3.75
    }
    while (b.hasRemaining()) {
      b.put(b.duplicate().position(0).limit(Math.min(JITTER_BYTES, b.remaining())));
    }
    return b.flip();
  }

  /** Bytes of every tensor loaded so far. */
  long servedBytes() {
    return servedBytes;
  }

  private static TensorSlice slice(String name, long[] shape, ByteBuffer data) {
    return new TensorSlice(name, Path.of("random-weights"), DType.BF16, shape, data);
  }

  private static long elements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public String toString() {
    return "random " + (codes != null ? "FP8 (linears) and bf16" : "bf16") + " weights in host memory ("
        + shapes.size() + " tensors)";
  }
}

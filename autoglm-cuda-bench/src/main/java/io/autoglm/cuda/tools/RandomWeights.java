package io.autoglm.cuda.tools;

import io.autoglm.model.CheckpointLayout;
import io.autoglm.model.ModelConfig;
import io.autoglm.model.WeightSource;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random bf16 weights for every tensor of a config, served from host memory with no checkpoint file: a
 * GLM-4-32B-0414-shaped checkpoint (65 GB) does not fit the GPU machine's 64 GiB disk. Values as
 * {@link FastRandomCheckpoint} writes them: large tensors are slices, at a random offset, of one direct block of
 * uniform values (std 0.02) as long as the largest tensor plus 64 MiB; norm weights near 1 and biases near 0, drawn
 * per tensor.
 */
final class RandomWeights implements WeightSource {
  private static final int JITTER_BYTES = 64 << 20;

  private final Map<String, long[]> shapes;
  private final ByteBuffer block; // (blockBytes / 2) bf16, little-endian
  private final SplittableRandom random = new SplittableRandom(42);
  private long servedBytes;

  RandomWeights(ModelConfig c) {
    this.shapes = CheckpointLayout.tensors(c);
    long largest = shapes.values().stream().mapToLong(RandomWeights::elements).max().orElse(1) * 2;
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
    return "random bf16 weights in host memory (" + shapes.size() + " tensors)";
  }
}

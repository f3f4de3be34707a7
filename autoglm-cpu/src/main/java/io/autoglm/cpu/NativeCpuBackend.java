package io.autoglm.cpu;

import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.MoeSlices;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The native CPU backend. Matrices (2-D weights) are kept as bf16 (bf16 checkpoints are copied bit for bit, fp32
 * and fp16 ones rounded to nearest even) or, with {@code autoglm.quantization=int8}, quantized at load to int8 with
 * an fp16 scale per 32 columns (GGUF Q8_0's symmetric round-to-nearest); norms and biases stay fp32. Activations and
 * the KV cache are fp32. Linear layers dequantize the weights in registers and multiply fp32 activations (exact
 * products of the stored weights), except bf16 weights times 16 or more rows, which round the activations to bf16
 * for AVX512_BF16's vdpbf16ps (fp32 sums). With {@code autoglm.kvCacheDtype=fp8} the KV cache holds FP8 E4M3 codes
 * (scale 1; a quarter of fp32's bytes), rounded as the DJL {@code cpu} backend's reference rounds them.
 */
public final class NativeCpuBackend implements ComputeBackend {
  static final int F32 = 0;
  static final int BF16 = 1;
  static final int Q8 = 2;

  private final CpuSettings settings;
  private final long ctx;
  private final List<Long> weights = new ArrayList<>();
  private final List<NativeKvCache> caches = new ArrayList<>();
  private volatile boolean closed;

  NativeCpuBackend(CpuSettings settings) {
    this.settings = settings;
    String level = settings.level().isEmpty() ? CpuNative.bestLevel() : settings.level();
    if (!CpuNative.levelAvailable(level)) {
      throw new IllegalArgumentException(CpuSettings.LEVEL + " = " + level + ": this CPU lacks it (best here: "
          + CpuNative.bestLevel() + ")");
    }
    this.ctx = CpuNative.createContext(settings.threads(), level, settings.bf16GemmMinRows());
    if (ctx == 0) {
      throw new IllegalStateException("cpu-native: cannot create a context at level " + level);
    }
  }

  @Override
  public String name() {
    return NativeCpuBackendProvider.NAME;
  }

  /** The kernel level in use: {@code avx512}, {@code avx2} or {@code scalar}. */
  public String level() {
    return CpuNative.levelName(ctx);
  }

  /** Worker threads, the calling thread included. */
  public int threads() {
    return settings.threads();
  }

  /** Whether matrices are int8 (else bf16). */
  public boolean int8() {
    return settings.int8();
  }

  @Override
  public int weightBytesPerElement() {
    return settings.int8() ? 1 : 2;
  }

  @Override
  public int kvBytesPerElement() {
    return settings.kvFp8() ? 1 : 4;
  }

  /** Bytes per second the backend's threads read streaming through {@code bytes} bytes, best of {@code runs}. */
  public double readBandwidth(long bytes, int runs) {
    return CpuNative.readBandwidth(ctx, bytes, runs);
  }

  @Override
  public synchronized Tensor weight(TensorSlice slice) {
    return fusedWeight(List.of(slice));
  }

  @Override
  public synchronized Tensor fusedWeight(List<TensorSlice> rowBlocks) {
    checkOpen();
    if (rowBlocks.isEmpty()) {
      throw new IllegalArgumentException("fusedWeight needs at least one block, got none");
    }
    TensorSlice first = rowBlocks.get(0);
    long rows = 0;
    for (TensorSlice s : rowBlocks) {
      dtypeCode(s);
      if (s.shape().length != first.shape().length
          || (s.shape().length == 2 && s.shape()[1] != first.shape()[1])) {
        throw new IllegalArgumentException("fusedWeight blocks must share their trailing dims: " + s + " vs " + first);
      }
      rows += s.shape().length == 2 ? s.shape()[0] : 1;
    }
    boolean matrix = first.shape().length == 2;
    long cols = matrix ? first.shape()[1] : rowBlocks.stream().mapToLong(TensorSlice::elementCount).sum();
    int format = !matrix ? F32 : settings.int8() && cols % 32 == 0 ? Q8 : BF16;
    long w = CpuNative.weightCreate(format, matrix ? rows : 1, cols);
    if (w == 0) {
      throw new IllegalStateException(String.format("cpu-native: out of memory for weight %s (%d × %d)",
          first.name(), matrix ? rows : 1, cols));
    }
    weights.add(w);
    if (matrix) {
      long row = 0;
      for (TensorSlice s : rowBlocks) {
        CpuNative.weightFill(ctx, w, row, direct(s), dtypeCode(s), s.shape()[0]);
        row += s.shape()[0];
      }
    } else { // 1-D blocks (fused biases) are concatenated along their one dim, widened to fp32
      ByteBuffer all = ByteBuffer.allocateDirect(Math.toIntExact(cols * 4)).order(ByteOrder.LITTLE_ENDIAN);
      FloatBuffer f = all.asFloatBuffer();
      for (TensorSlice s : rowBlocks) {
        Widening.toFloat32(s, 0, Math.toIntExact(s.elementCount()), f);
      }
      CpuNative.weightFill(ctx, w, 0, all, F32, 1);
    }
    return new NativeWeight(w, matrix ? rows : 1, cols, format, matrix);
  }

  private static int dtypeCode(TensorSlice s) {
    return switch (s.dtype()) {
      case F32 -> F32;
      case BF16 -> BF16;
      case F16 -> 2;
      default -> throw new IllegalArgumentException("tensor " + s + ": the cpu-native backend loads F32, BF16 or F16 "
          + "weights, not " + s.dtype() + (s.dtype().isFp8() ? " (FP8 checkpoints run on the cuda backend, or dequantized on backend(\"cpu\"), the DJL one)" : ""));
    };
  }

  private static ByteBuffer direct(TensorSlice s) {
    ByteBuffer d = s.data();
    if (d.isDirect()) {
      return d;
    }
    ByteBuffer copy = ByteBuffer.allocateDirect(d.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    copy.put(d.duplicate()).flip();
    return copy;
  }

  /** Mixture-of-experts models are refused while they load, naming the layer's router and the backends to use. */
  @Override
  public MoeWeights moeWeights(MoeSlices slices) {
    throw new UnsupportedOperationException(String.format("the cpu-native backend does not run mixture-of-experts "
        + "models (Glm4MoeForCausalLM: %s in %s); use backend(\"cpu\") (DJL, fp32) or backend(\"cuda\")",
        slices.router().name(), slices.router().file()));
  }

  @Override
  public synchronized KvCache allocateKv(KvLayout layout) {
    checkOpen();
    NativeKvCache kv = new NativeKvCache(layout, this);
    caches.add(kv);
    return kv;
  }

  synchronized void forget(NativeKvCache kv) {
    caches.remove(kv);
  }

  @Override
  public ForwardStep begin(StepBatch batch, KvCache kv) {
    checkOpen();
    if (!(kv instanceof NativeKvCache cache) || cache.owner() != this) {
      throw new IllegalArgumentException("KV cache " + kv + " was not allocated by this cpu-native backend");
    }
    return new NativeForwardStep(ctx, batch, cache);
  }

  boolean isClosed() {
    return closed;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the cpu-native backend is closed");
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (NativeKvCache kv : new ArrayList<>(caches)) {
      kv.close();
    }
    for (long w : weights) {
      CpuNative.weightFree(w);
    }
    weights.clear();
    CpuNative.destroyContext(ctx);
  }

  /** A weight on the native heap: a matrix (rows, cols) or a 1-D vector (1, cols). */
  record NativeWeight(long handle, long rows, long cols, int format, boolean matrix) implements Tensor {
    @Override
    public long[] shape() {
      return matrix ? new long[] {rows, cols} : new long[] {cols};
    }
  }
}

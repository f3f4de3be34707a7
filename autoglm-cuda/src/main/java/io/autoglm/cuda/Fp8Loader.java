package io.autoglm.cuda;

import io.autoglm.backend.BackendOptions;
import io.autoglm.safetensors.BlockScale;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongUnaryOperator;

/**
 * Loads FP8 weights onto the device: the parts of an FP8 checkpoint's weight as they are (e4m3 bytes plus their block
 * scales), or, with {@code autoglm.quantization=fp8}, the decoder's bf16 linear weights (those the backend receives
 * through {@code linearWeight} and {@code moeWeights}' experts) quantized at load by the device (128×128 blocks, the
 * rule of {@code quantizeFp8K}: docs/fp8.md, "CUDA"). Scales of fused weights are assembled on the host
 * ({@link Fp8Scales}) and uploaded once. Also owns the bf16 scratch that the cuBLAS path of an FP8 linear dequantizes
 * into (and quantization at load uploads into): as large as the largest FP8 weight, grown only while weights load
 * (never during a step, so a captured graph keeps its address); {@link #close} frees it.
 */
final class Fp8Loader {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Fp8Loader.class);

  /** The block of quantization at load. */
  static final int BLOCK = 128;

  private final long ctx;
  private final LongUnaryOperator malloc; // bytes -> device pointer, owned (freed) by the backend
  private final boolean quantize;
  private long scratch;
  private long scratchBytes;

  Fp8Loader(long ctx, LongUnaryOperator malloc, boolean quantize) {
    this.ctx = ctx;
    this.malloc = malloc;
    this.quantize = quantize;
  }

  /**
   * Whether {@code autoglm.quantization} asks for FP8 at load: core's rule ({@link BackendOptions#quantizeFp8}: absent
   * = no, {@code fp8} = yes, any other value refused naming the property, the value and this backend).
   */
  static boolean quantizeAtLoad(BackendOptions options) {
    return options.quantizeFp8("cuda");
  }

  /**
   * Whether quantization at load can take this linear weight (the backend offers it only what
   * {@code ComputeBackend.linearWeight} and {@code moeWeights}' experts receive): 2-D, a 16-column multiple for the
   * GEMV kernels, unquantized.
   */
  static boolean quantizable(TensorSlice s) {
    return quantizable(s.shape(), s.dtype());
  }

  /** The same from a tensor's shape and dtype. */
  static boolean quantizable(long[] shape, DType dtype) {
    return shape.length == 2 && shape[1] % 16 == 0 && (dtype == DType.BF16 || dtype == DType.F16
        || dtype == DType.F32);
  }

  /**
   * Whether these parts of one weight load as FP8: all parts FP8, or, for a {@code linear} weight under quantization
   * at load, every part FP8 or quantizable (the others are then quantized at load beside the stored FP8 ones). Parts
   * that mix FP8 and unquantized tensors otherwise must go through {@link #oneForm} first.
   */
  boolean wantsFp8(List<TensorSlice> parts, boolean linear) {
    long fp8 = parts.stream().filter(p -> p.dtype().isFp8()).count();
    boolean all = fp8 == parts.size() || quantizes(parts, linear);
    if (fp8 != 0 && !all) {
      throw new IllegalArgumentException("weight " + parts.stream().map(TensorSlice::name).toList()
          + " mixes FP8 and unquantized parts; expected all or none in F8_E4M3 (Fp8Loader.oneForm makes them one)");
    }
    return all;
  }

  private boolean quantizes(List<TensorSlice> parts, boolean linear) {
    return quantize && linear && parts.stream().allMatch(p -> p.dtype().isFp8() || quantizable(p));
  }

  /**
   * The parts of one weight (or of one expert stack) in one form, for {@link #wantsFp8}: as they are when all or
   * none are FP8, or when quantization at load takes every unquantized one of a {@code linear} weight; otherwise (FP8
   * checkpoints keep some tensors in bf16, e.g. those whose shape the quantizer skipped) the FP8 parts dequantized on
   * the host to bf16 ({@code e4m3 × scale} in fp32, rounded to nearest even as every unquantized weight is stored),
   * noted in the log.
   */
  List<TensorSlice> oneForm(List<TensorSlice> parts, String what, boolean linear) {
    long fp8 = parts.stream().filter(p -> p.dtype().isFp8()).count();
    if (fp8 == 0 || fp8 == parts.size() || quantizes(parts, linear)) {
      return parts;
    }
    LOG.info("{} mixes {} FP8 and {} unquantized tensors (e.g. {}); the FP8 ones load dequantized to bf16", what, fp8,
        parts.size() - fp8, parts.stream().filter(p -> !p.dtype().isFp8()).findFirst().orElseThrow().name());
    List<TensorSlice> out = new ArrayList<>(parts.size());
    for (TensorSlice p : parts) {
      out.add(p.dtype().isFp8() ? dequantizedBf16(p) : p);
    }
    return out;
  }

  /** An FP8 tensor as bf16: each element {@code bf16(e4m3 × scale)}, the fp32 product rounded to nearest even. */
  static TensorSlice dequantizedBf16(TensorSlice p) {
    long n = p.elementCount();
    ByteBuffer out = ByteBuffer.allocateDirect(Math.toIntExact(2 * n)).order(ByteOrder.LITTLE_ENDIAN);
    float[] chunk = new float[(int) Math.min(n, 1 << 20)];
    for (long at = 0; at < n; at += chunk.length) {
      int count = (int) Math.min(chunk.length, n - at);
      Widening.toFloat32(p, at, count, FloatBuffer.wrap(chunk, 0, count));
      for (int i = 0; i < count; i++) {
        out.putShort(Widening.floatToBf16(chunk[i]));
      }
    }
    return new TensorSlice(p.name(), p.file(), DType.BF16, p.shape().clone(), out.flip());
  }

  /** The parts stacked along rows into one FP8 weight of {@code cols} columns. */
  CudaWeight load(List<TensorSlice> parts, long cols, boolean logitsHead) {
    if (cols % 16 != 0) {
      throw new IllegalArgumentException(String.format("FP8 weight %s has %d columns; the CUDA backend's FP8 kernels "
          + "read 16 weights at a time and need a multiple of 16", parts.get(0).name(), cols));
    }
    long rows = 0;
    for (TensorSlice p : parts) {
      if (p.shape().length != 2 || p.shape()[1] != cols) {
        throw new IllegalArgumentException(String.format("FP8 weight part %s has shape %s; expected (rows, %d)",
            p.name(), java.util.Arrays.toString(p.shape()), cols));
      }
      rows += p.shape()[0];
    }
    long q = malloc.applyAsLong(Math.max(rows * cols, 256));
    CudaWeight.Fp8 f = upload(parts, q);
    ensureScratch(2 * rows * cols);
    return new CudaWeight(q, new long[] {rows, cols}, logitsHead, f);
  }

  /** Uploads (or quantizes) the parts' e4m3 data from {@code q} on and their assembled scales; returns the scales. */
  CudaWeight.Fp8 upload(List<TensorSlice> parts, long q) {
    Fp8Scales.Layout l = Fp8Scales.blockPitch(layout(parts, q));
    long s = malloc.applyAsLong(Math.max(4L * l.scales().length, 256));
    CudaNative.uploadFloats(ctx, s, l.scales());
    return new CudaWeight.Fp8(s, l.scaleCols(), l.rowShift(), l.colShift());
  }

  /** Uploads (or quantizes) the parts' e4m3 data from {@code q} on; returns their scales as the kernels see them. */
  Fp8Scales.Layout layout(List<TensorSlice> parts, long q) {
    List<Fp8Scales.Part> scales = new ArrayList<>();
    long at = q;
    for (TensorSlice p : parts) {
      scales.add(p.dtype().isFp8() ? uploadFp8(at, p) : quantize(at, p));
      at += p.elementCount();
    }
    return Fp8Scales.assemble(scales);
  }

  private Fp8Scales.Part uploadFp8(long dst, TensorSlice p) {
    BlockScale b = p.scale().orElseThrow();
    CudaNative.uploadRaw(ctx, dst, p.data(), p.elementCount());
    float[] s = new float[Math.toIntExact(b.scaleInv().elementCount())];
    Widening.toFloat32(b.scaleInv(), 0, s.length, FloatBuffer.wrap(s));
    return new Fp8Scales.Part(p.name(), Math.toIntExact(p.shape()[0]), Math.toIntExact(p.shape()[1]), b.blockRows(),
        b.blockCols(), s);
  }

  /** bf16 into the scratch, quantized by the device into dst; the scales come back to the host for assembly. */
  private Fp8Scales.Part quantize(long dst, TensorSlice p) {
    int rows = Math.toIntExact(p.shape()[0]);
    int cols = Math.toIntExact(p.shape()[1]);
    ensureScratch(2L * rows * cols);
    CudaNative.upload(ctx, scratch, p.data(), CudaBackend.dtype(p), p.elementCount());
    int n = Fp8Scales.ceil(rows, BLOCK) * Fp8Scales.ceil(cols, BLOCK);
    ByteBuffer host = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder());
    long s = CudaNative.malloc(ctx, Math.max(4L * n, 256));
    try {
      CudaNative.quantizeFp8(ctx, dst, s, scratch, rows, cols, BLOCK, BLOCK);
      CudaNative.copyAsync(ctx, CudaNative.address(host), s, 4L * n);
      CudaNative.synchronize(ctx);
    } finally {
      CudaNative.free(ctx, s);
    }
    float[] scales = new float[n];
    host.asFloatBuffer().get(scales);
    return new Fp8Scales.Part(p.name(), rows, cols, BLOCK, BLOCK, scales);
  }

  /** The bf16 scratch of at least {@code bytes}: replaced by a larger one while weights load. */
  void ensureScratch(long bytes) {
    if (bytes > scratchBytes) {
      long next = CudaNative.malloc(ctx, bytes);
      if (scratch != 0) {
        CudaNative.synchronize(ctx);
        CudaNative.free(ctx, scratch);
      }
      scratch = next;
      scratchBytes = bytes;
    }
  }

  /** Frees the scratch (the weights themselves belong to the backend's allocations). */
  void close() {
    if (scratch != 0) {
      CudaNative.free(ctx, scratch);
      scratch = 0;
      scratchBytes = 0;
    }
  }

  /** The dequantization scratch (bf16, at least as large as every FP8 weight), or 0 when no FP8 weight loaded. */
  long scratch() {
    return scratch;
  }

  long scratchBytes() {
    return scratchBytes;
  }
}

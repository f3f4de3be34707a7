package io.autoglm.backend.cpu;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.Fp8;
import io.autoglm.safetensors.Fp8Scheme;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.stream.IntStream;

/**
 * Turns stored weights into the CPU backend's fp32 arrays. F32 is used straight from the mapping (zero copy); F16,
 * BF16 and F8_E4M3 (dequantized: code × block scale) are converted in Java through one fixed staging buffer, in
 * parallel over the staging chunk's parts. {@link #roundTripFp8} is the fp32 reference of FP8 quantization at load:
 * a weight quantized in {@link Fp8Scheme#PUBLISHED} blocks ({@link Fp8#quantize}) and dequantized again, a chunk of
 * whole block rows at a time, so no copy of the whole tensor is made.
 */
final class CpuWeights {
  /** Elements converted per chunk: bounds the staging buffer at 64 MiB. */
  static final int STAGING_ELEMENTS = 16 << 20;
  /** Below this a chunk converts on the calling thread. */
  private static final int PARALLEL_ELEMENTS = 1 << 18;

  private final NDManager manager;
  private final int stagingElements;
  private ByteBuffer staging;

  /** {@code stagingElements}: the chunk size ({@link #STAGING_ELEMENTS}; tests make it small). */
  CpuWeights(NDManager manager, int stagingElements) {
    this.manager = manager;
    this.stagingElements = stagingElements;
  }

  /** The weight as stored, in fp32; the caller owns it (unregistered from any scope). */
  NDArray asStored(TensorSlice slice) {
    Shape shape = new Shape(slice.shape());
    NDArray array = slice.dtype() == DType.F32 ? manager.create(slice.data(), shape, DataType.FLOAT32)
        : widen(slice, shape);
    NDScope.unregister(array);
    return array;
  }

  private NDArray widen(TensorSlice slice, Shape shape) {
    long n = slice.elementCount();
    NDArray flat = manager.create(new Shape(n), DataType.FLOAT32);
    if (staging == null) {
      staging = ByteBuffer.allocateDirect(stagingElements * 4).order(ByteOrder.nativeOrder());
    }
    for (long from = 0; from < n; from += stagingElements) {
      int count = (int) Math.min(stagingElements, n - from);
      convert(slice, from, count);
      ByteBuffer chunkBytes = staging.duplicate().order(ByteOrder.nativeOrder());
      chunkBytes.position(0).limit(count * 4);
      try (NDArray chunk = manager.create(chunkBytes.slice().order(ByteOrder.nativeOrder()), new Shape(count),
          DataType.FLOAT32)) {
        flat.set(new NDIndex(from + ":" + (from + count)), chunk);
      }
    }
    return reshaped(flat, shape);
  }

  /** Elements [from, from + count) into the staging buffer's first count floats, in parallel parts. */
  private void convert(TensorSlice slice, long from, int count) {
    int parts = count < Math.min(PARALLEL_ELEMENTS, stagingElements) ? 1 : Runtime.getRuntime().availableProcessors();
    int per = (count + parts - 1) / parts;
    IntStream.range(0, parts).parallel().forEach(p -> {
      int start = p * per;
      int len = Math.min(count, start + per) - start;
      if (len > 0) {
        FloatBuffer dst = staging.asFloatBuffer();
        dst.position(start);
        Widening.toFloat32(slice, from + start, len, dst);
      }
    });
  }

  /** A 2-D weight quantized to FP8 (128 × 128 blocks from its first row and column) and dequantized to fp32. */
  NDArray roundTripFp8(TensorSlice slice) {
    if (slice.shape().length != 2) {
      throw new IllegalArgumentException("tensor " + slice.name() + ": FP8 quantization needs a 2-D weight, got "
          + slice);
    }
    int rows = slice.dim(0);
    int cols = slice.dim(1);
    int blockRows = Fp8Scheme.PUBLISHED.blockRows();
    int chunkRows = Math.max(blockRows, stagingElements / Math.max(1, cols) / blockRows * blockRows);
    NDArray flat = manager.create(new Shape((long) rows * cols), DataType.FLOAT32);
    for (int r0 = 0; r0 < rows; r0 += chunkRows) {
      int n = Math.min(chunkRows, rows - r0);
      float[] chunk = new float[n * cols];
      Widening.toFloat32(slice, (long) r0 * cols, chunk.length, FloatBuffer.wrap(chunk));
      int first = r0;
      IntStream.range(0, (n + blockRows - 1) / blockRows).parallel().forEach(g -> roundTripRows(slice.name(), chunk,
          g * blockRows, Math.min(n, (g + 1) * blockRows), cols, first));
      try (NDArray part = manager.create(chunk, new Shape(chunk.length))) {
        flat.set(new NDIndex(((long) r0 * cols) + ":" + ((long) (r0 + n) * cols)), part);
      }
    }
    NDArray out = reshaped(flat, new Shape(slice.shape()));
    NDScope.unregister(out);
    return out;
  }

  /** Rows [r0, r1) of the chunk (one block row), replaced by their FP8 round trip. */
  private static void roundTripRows(String name, float[] chunk, int r0, int r1, int cols, int firstRow) {
    float[] rows = java.util.Arrays.copyOfRange(chunk, r0 * cols, r1 * cols);
    Fp8.Quantized q = Fp8.quantize(name, rows, r1 - r0, cols, Fp8Scheme.PUBLISHED.blockRows(),
        Fp8Scheme.PUBLISHED.blockCols(), firstRow + r0);
    for (int r = 0; r < r1 - r0; r++) {
      for (int c = 0; c < cols; c++) {
        chunk[(r0 + r) * cols + c] = q.dequantized(r, c);
      }
    }
  }

  private static NDArray reshaped(NDArray flat, Shape shape) {
    NDArray shaped = flat.reshape(shape);
    if (shaped != flat) {
      NDScope.unregister(shaped);
    }
    return shaped;
  }
}

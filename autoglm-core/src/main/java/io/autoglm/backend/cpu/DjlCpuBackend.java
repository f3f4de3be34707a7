package io.autoglm.backend.cpu;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertSlices;
import io.autoglm.backend.MoeSlices;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.DType;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * The portable reference backend: DJL's PyTorch engine on the CPU, in fp32.
 *
 * <p>F32 weights are used straight from the memory-mapped shard (zero copy); F16 and BF16 weights are widened in
 * Java, through a fixed staging buffer, into fp32 tensors that PyTorch owns. No BFLOAT16 NDArray is ever made: DJL
 * aborts the JVM on one.
 */
public final class DjlCpuBackend implements ComputeBackend {
  /** Elements widened per chunk: bounds the staging buffer at 64 MiB. */
  private static final int STAGING_ELEMENTS = 16 << 20;

  private final NDManager manager;
  private ByteBuffer staging;

  public DjlCpuBackend() {
    this.manager = NDManager.newBaseManager(Device.cpu());
  }

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public int weightBytesPerElement() {
    return 4;
  }

  @Override
  public Tensor weight(TensorSlice slice) {
    Shape shape = new Shape(slice.shape());
    NDArray array;
    if (slice.dtype() == DType.F32) {
      array = manager.create(slice.data(), shape, DataType.FLOAT32);
    } else {
      array = widen(slice, shape);
    }
    NDScope.unregister(array);
    return new CpuTensor(array);
  }

  @Override
  public Tensor fusedWeight(List<TensorSlice> rowBlocks) {
    if (rowBlocks.isEmpty()) {
      throw new IllegalArgumentException("fusedWeight needs at least one block, got none");
    }
    return new CpuTensor(concatRows(rowBlocks));
  }

  private NDArray concatRows(List<TensorSlice> rowBlocks) {
    NDList parts = new NDList();
    for (TensorSlice s : rowBlocks) {
      parts.add(nd(weight(s)));
    }
    NDArray out = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
    if (parts.size() > 1) {
      parts.close();
    }
    NDScope.unregister(out);
    return out;
  }

  /** Each expert's gate and up are fused into one (2·I, hidden) array; the correction bias stays on the host. */
  @Override
  public MoeWeights moeWeights(MoeSlices slices) {
    int n = slices.experts().size();
    NDArray[] gateUp = new NDArray[n];
    NDArray[] down = new NDArray[n];
    for (int e = 0; e < n; e++) {
      ExpertSlices x = slices.experts().get(e);
      gateUp[e] = concatRows(List.of(x.gate(), x.up()));
      down[e] = nd(weight(x.down()));
    }
    float[] bias = new float[n];
    Widening.toFloat32(slices.correctionBias(), 0, n, FloatBuffer.wrap(bias));
    return new CpuMoe.Weights(nd(weight(slices.router())), bias, gateUp, down);
  }

  private NDArray widen(TensorSlice slice, Shape shape) {
    long n = slice.elementCount();
    NDArray flat = manager.create(new Shape(n), DataType.FLOAT32);
    if (staging == null) {
      staging = ByteBuffer.allocateDirect(STAGING_ELEMENTS * 4).order(ByteOrder.nativeOrder());
    }
    for (long from = 0; from < n; from += STAGING_ELEMENTS) {
      int count = (int) Math.min(STAGING_ELEMENTS, n - from);
      staging.clear();
      Widening.toFloat32(slice, from, count, staging.asFloatBuffer());
      ByteBuffer chunkBytes = staging.duplicate().order(ByteOrder.nativeOrder());
      chunkBytes.limit(count * 4);
      try (NDArray chunk = manager.create(chunkBytes.slice().order(ByteOrder.nativeOrder()), new Shape(count),
          DataType.FLOAT32)) {
        flat.set(new NDIndex(from + ":" + (from + count)), chunk);
      }
    }
    NDArray shaped = flat.reshape(shape);
    if (shaped != flat) {
      NDScope.unregister(shaped);
    }
    return shaped;
  }

  @Override
  public KvCache allocateKv(KvLayout layout) {
    return new CpuKvCache(manager, layout);
  }

  @Override
  public ForwardStep begin(StepBatch batch, KvCache kv) {
    if (!(kv instanceof CpuKvCache cache)) {
      throw new IllegalArgumentException("KV cache " + kv + " was not allocated by the CPU backend");
    }
    return new CpuForwardStep(manager, batch, cache);
  }

  @Override
  public void close() {
    manager.close();
  }

  /** A DJL array as a backend tensor. */
  record CpuTensor(NDArray array) implements Tensor {
    @Override
    public long[] shape() {
      return array.getShape().getShape();
    }
  }

  static NDArray nd(Tensor t) {
    return ((CpuTensor) t).array();
  }
}

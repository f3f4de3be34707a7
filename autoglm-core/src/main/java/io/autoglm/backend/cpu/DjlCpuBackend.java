package io.autoglm.backend.cpu;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ExpertSlices;
import io.autoglm.backend.MoeSlices;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.TensorSlice;
import io.autoglm.safetensors.Widening;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * The portable reference backend: DJL's PyTorch engine on the CPU, in fp32.
 *
 * <p>F32 weights are used straight from the memory-mapped shard (zero copy); F16, BF16 and block-scaled F8_E4M3
 * weights are converted in Java ({@link CpuWeights}) into fp32 tensors that PyTorch owns: FP8 dequantized exactly as
 * {@code code × scale}. With {@link BackendOptions#QUANTIZATION} {@code fp8}, every unquantized linear weight
 * ({@link #linearWeight}, the routed experts) is quantized to FP8 and dequantized again, which makes this backend
 * the fp32 reference of quantization at load; with {@link BackendOptions#KV_CACHE_DTYPE} {@code fp8}, every key and
 * value is rounded to FP8 E4M3 as it is written ({@link CpuKvCache}), the reference of an FP8 KV cache. No BFLOAT16
 * NDArray is ever made: DJL aborts the JVM on one.
 */
public final class DjlCpuBackend implements ComputeBackend {
  private final NDManager manager;
  private final CpuWeights weights;
  private final boolean quantizeFp8;
  private final boolean kvFp8;

  public DjlCpuBackend() {
    this(BackendOptions.defaults());
  }

  public DjlCpuBackend(BackendOptions options) {
    this(options, CpuWeights.STAGING_ELEMENTS);
  }

  /** {@code stagingElements}: the weight conversion's chunk size (tests make it small to cover several chunks). */
  DjlCpuBackend(BackendOptions options, int stagingElements) {
    this.quantizeFp8 = options.quantizeFp8("cpu (DJL)");
    this.kvFp8 = options.kvCacheFp8("cpu (DJL)", true);
    this.manager = NDManager.newBaseManager(Device.cpu());
    this.weights = new CpuWeights(manager, stagingElements);
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
    return new CpuTensor(weights.asStored(slice));
  }

  @Override
  public Tensor fusedWeight(List<TensorSlice> rowBlocks) {
    return new CpuTensor(concatRows(rowBlocks, false));
  }

  @Override
  public Tensor linearWeight(List<TensorSlice> rowBlocks) {
    return new CpuTensor(concatRows(rowBlocks, true));
  }

  /** The blocks in fp32 along dim 0; linear ones round-tripped through FP8 when quantizing at load. */
  private NDArray concatRows(List<TensorSlice> rowBlocks, boolean linear) {
    if (rowBlocks.isEmpty()) {
      throw new IllegalArgumentException("a fused weight needs at least one row block, got none");
    }
    NDList parts = new NDList();
    for (TensorSlice s : rowBlocks) {
      parts.add(linear && quantizeFp8 && !s.dtype().isFp8() ? weights.roundTripFp8(s) : weights.asStored(s));
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
      gateUp[e] = concatRows(List.of(x.gate(), x.up()), true);
      down[e] = concatRows(List.of(x.down()), true);
    }
    float[] bias = new float[n];
    Widening.toFloat32(slices.correctionBias(), 0, n, FloatBuffer.wrap(bias));
    return new CpuMoe.Weights(weights.asStored(slices.router()), bias, gateUp, down);
  }

  @Override
  public KvCache allocateKv(KvLayout layout) {
    return new CpuKvCache(manager, layout, kvFp8);
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

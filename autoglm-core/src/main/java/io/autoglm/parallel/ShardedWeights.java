package io.autoglm.parallel;

import io.autoglm.model.WeightSource;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One tensor-parallel rank's view of a checkpoint: each tensor as the slices {@link ShardingPlan} gives the rank,
 * taken from the mapped shards without reading the rest. Row ranges are slices of the mapping (zero copy); a
 * column range is copied row by row into a direct buffer of the slice's size (the whole tensor never reaches
 * the heap or a buffer). {@link #bytesRead()} counts the bytes of the mapping that the slices expose.
 */
public final class ShardedWeights implements WeightSource {
  private final Checkpoint ckpt;
  private final ShardingPlan plan;
  private final int rank;
  private long bytesRead;

  public ShardedWeights(Checkpoint ckpt, ShardingPlan plan, int rank) {
    this.ckpt = ckpt;
    this.plan = plan;
    this.rank = rank;
  }

  /** Bytes of stored tensors this rank's slices cover, so far. */
  public long bytesRead() {
    return bytesRead;
  }

  @Override
  public boolean contains(String name) {
    return ckpt.contains(name);
  }

  @Override
  public List<TensorSlice> load(String name, long... fullShape) {
    TensorSlice full = ckpt.tensor(name, fullShape); // maps, reads nothing
    TensorShard shard = plan.shard(name, fullShape, rank);
    List<TensorSlice> out = new ArrayList<>(shard.ranges().size());
    switch (shard.split()) {
      case REPLICATED -> out.add(full);
      case ROWS -> shard.ranges().forEach(r -> out.add(rows(full, r)));
      case COLUMNS -> shard.ranges().forEach(r -> out.add(columns(full, r)));
    }
    out.forEach(s -> bytesRead += s.data().remaining());
    return out;
  }

  /** Rows [r.start, r.end) of a row-major tensor: one contiguous slice of its mapping. */
  static TensorSlice rows(TensorSlice full, Range r) {
    long rowBytes = full.data().capacity() / full.shape()[0];
    ByteBuffer data = full.data().duplicate();
    data.position(Math.toIntExact(r.start() * rowBytes)).limit(Math.toIntExact(r.end() * rowBytes));
    long[] shape = full.shape().clone();
    shape[0] = r.length();
    return new TensorSlice(full.name() + "[" + r + "]", full.file(), full.dtype(), shape, data.slice());
  }

  /** Columns [r.start, r.end) of a row-major 2-D tensor: a strided copy into a direct buffer of their size. */
  static TensorSlice columns(TensorSlice full, Range r) {
    int rows = full.dim(0);
    int element = full.dtype().sizeBytes();
    int srcRowBytes = full.dim(1) * element;
    int dstRowBytes = Math.toIntExact(r.length() * element);
    ByteBuffer dst = ByteBuffer.allocateDirect(Math.multiplyExact(rows, dstRowBytes)).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer src = full.data();
    int from = Math.toIntExact(r.start() * element);
    for (int row = 0; row < rows; row++) {
      dst.put(row * dstRowBytes, src, row * srcRowBytes + from, dstRowBytes);
    }
    return new TensorSlice(full.name() + "[:, " + r + "]", full.file(), full.dtype(),
        new long[] {rows, r.length()}, dst);
  }

  @Override
  public String toString() {
    return ckpt.dir() + " (tensor-parallel rank " + rank + " of " + plan.tensorParallel() + ")";
  }
}

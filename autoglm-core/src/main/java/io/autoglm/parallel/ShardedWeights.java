package io.autoglm.parallel;

import io.autoglm.ModelLoadException;
import io.autoglm.model.WeightSource;
import io.autoglm.safetensors.BlockScale;
import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.TensorSlice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One tensor-parallel rank's view of a checkpoint: each tensor as the slices {@link ShardingPlan} gives the rank,
 * taken from the mapped shards without reading the rest. Row ranges are slices of the mapping (zero copy); a
 * column range is copied row by row into a direct buffer of the slice's size (the whole tensor never reaches
 * the heap or a buffer). {@link #bytesRead()} counts the bytes of the mapping that the slices expose.
 *
 * <p>An FP8 weight's {@link BlockScale} is sliced with it: a range must start on a block boundary and end on one or
 * at the end of the dim, so that the rank's blocks are whole blocks of the stored tensor; otherwise loading fails
 * naming the tensor, the range and the block size.
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
    Optional<BlockScale> scale = full.scale().map(s -> new BlockScale(
        rows(s.scaleInv(), blocks(full, r, 0, s.blockRows())), s.blockRows(), s.blockCols()));
    return new TensorSlice(full.name() + "[" + r + "]", full.file(), full.dtype(), shape, data.slice(), scale);
  }

  /** The range of scale blocks that covers exactly the range {@code r} of dim {@code dim}. */
  static Range blocks(TensorSlice full, Range r, int dim, int block) {
    long size = full.shape()[dim];
    if (r.start() % block != 0 || (r.end() % block != 0 && r.end() != size)) {
      throw new ModelLoadException(String.format("tensor %s in %s: tensor-parallel %s %s of %d does not fall on "
          + "its FP8 scale blocks of %d %s; expected a split at multiples of %d (use fewer ranks, or a checkpoint "
          + "with smaller weight_block_size)", full.name(), full.file(), dim == 0 ? "rows" : "columns", r, size,
          block, dim == 0 ? "rows" : "columns", block));
    }
    return new Range(r.start() / block, (r.end() + block - 1) / block);
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
    Optional<BlockScale> scale = full.scale().map(s -> new BlockScale(
        columns(s.scaleInv(), blocks(full, r, 1, s.blockCols())), s.blockRows(), s.blockCols()));
    return new TensorSlice(full.name() + "[:, " + r + "]", full.file(), full.dtype(),
        new long[] {rows, r.length()}, dst, scale);
  }

  @Override
  public String toString() {
    return ckpt.dir() + " (tensor-parallel rank " + rank + " of " + plan.tensorParallel() + ")";
  }
}

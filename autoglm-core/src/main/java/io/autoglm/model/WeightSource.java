package io.autoglm.model;

import io.autoglm.safetensors.Checkpoint;
import io.autoglm.safetensors.TensorSlice;
import java.util.List;

/**
 * Where a model rank's weights come from: the whole checkpoint, or one tensor-parallel rank's slices of it
 * ({@code io.autoglm.parallel.ShardedWeights}).
 */
public interface WeightSource {
  boolean contains(String name);

  /**
   * The part of tensor {@code name} this rank loads, after checking the stored shape is {@code fullShape}: one
   * slice, or several that the backend concatenates along dim 0 (a rank's [gate_r | up_r] of a fused
   * {@code gate_up_proj}).
   */
  List<TensorSlice> load(String name, long... fullShape);

  /** Every tensor whole, straight from the checkpoint's mapped shards. */
  static WeightSource whole(Checkpoint ckpt) {
    return new WeightSource() {
      @Override
      public boolean contains(String name) {
        return ckpt.contains(name);
      }

      @Override
      public List<TensorSlice> load(String name, long... fullShape) {
        return List.of(ckpt.tensor(name, fullShape));
      }

      @Override
      public String toString() {
        return ckpt.dir().toString();
      }
    };
  }
}

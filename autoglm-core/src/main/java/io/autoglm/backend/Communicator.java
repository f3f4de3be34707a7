package io.autoglm.backend;

import java.util.List;

/**
 * One rank's end of a tensor-parallel group: the collectives the decoder needs between the ranks' shards. Every
 * rank calls the same collectives in the same order, each from the thread that drives its {@link ForwardStep}
 * (a collective blocks until all ranks have joined). Every rank gets bitwise the same result, so ranks never drift
 * apart (the MoE router, for one, must pick the same experts everywhere).
 *
 * <p>Implementations: {@link #single()} (one rank: identity), {@link #inProcess(int)} (host memory, any backend;
 * the CPU backend's), and NCCL in the CUDA backend ({@code NcclCommunicator}), opened at run time by its provider
 * ({@link ComputeBackendProvider#openCommunicators}).
 */
public interface Communicator extends AutoCloseable {
  int rank();

  int size();

  /** Elementwise sum over the ranks of x (T, features): after o_proj, down_proj and the vocab-split embedding. */
  Tensor allReduceSum(ForwardStep step, Tensor x);

  /** Concatenates the ranks' x (T, cols_r) along the last dim in rank order: the vocab-split lm_head's logits. */
  Tensor allGatherColumns(ForwardStep step, Tensor x);

  /**
   * Wakes every rank blocked in a collective with an error, after one rank failed. The group is then unusable (as
   * after {@code ncclCommAbort}); the caller opens a new one.
   */
  default void abort() {}

  /** Releases the group's resources (NCCL communicators); after {@link #abort} it has nothing left to do. */
  default void close() {}

  /** The group of one: both collectives return their input. */
  static Communicator single() {
    return new Communicator() {
      @Override
      public int rank() {
        return 0;
      }

      @Override
      public int size() {
        return 1;
      }

      @Override
      public Tensor allReduceSum(ForwardStep step, Tensor x) {
        return x;
      }

      @Override
      public Tensor allGatherColumns(ForwardStep step, Tensor x) {
        return x;
      }
    };
  }

  /**
   * A group of {@code size} ranks in this JVM that meet in host memory ({@link ForwardStep#toHost} and
   * {@link ForwardStep#fromHost}); element i of the list is rank i.
   */
  static List<Communicator> inProcess(int size) {
    return InProcessCommunicator.group(size);
  }
}

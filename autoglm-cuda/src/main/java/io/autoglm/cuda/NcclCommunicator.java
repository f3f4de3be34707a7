package io.autoglm.cuda;

import io.autoglm.backend.Communicator;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One rank of a tensor-parallel group of CUDA backends, through NCCL (dlopen'ed at run time, like cuBLAS): the
 * collectives are enqueued on the rank's stream, so they run in step order with its kernels and are captured into
 * its decode graphs. NCCL's ring reduction gives every rank the same bits.
 */
final class NcclCommunicator implements Communicator {
  /**
   * The communicators of one group, released together: NCCL's teardown (ncclCommDestroy's finalize, and
   * ncclCommAbort too, seen with NCCL 2.28.3) waits for the group's other ranks, so releasing the ranks one after
   * another from one thread never returns. Every rank is released from its own thread at once.
   */
  private static final class Group {
    private final long[] comms;
    private boolean released;

    Group(long[] comms) {
      this.comms = comms;
    }

    synchronized boolean released() {
      return released;
    }

    synchronized void release(boolean abort) {
      if (released) {
        return;
      }
      released = true;
      List<Thread> threads = new ArrayList<>();
      List<RuntimeException> failures = java.util.Collections.synchronizedList(new ArrayList<>());
      for (long comm : comms) {
        Thread t = new Thread(() -> {
          try {
            if (abort) {
              CudaNative.ncclAbort(comm);
            } else {
              try {
                CudaNative.ncclDestroy(comm);
              } catch (RuntimeException e) { // the communicator is still there: abort frees it
                failures.add(e);
                CudaNative.ncclAbort(comm);
              }
            }
          } catch (RuntimeException e) {
            failures.add(e);
          }
        }, "autoglm-nccl-release");
        t.setDaemon(true);
        t.start();
        threads.add(t);
      }
      long deadline = System.nanoTime() + RELEASE_TIMEOUT_NANOS;
      boolean interrupted = false;
      for (Thread t : threads) {
        try {
          t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (threads.stream().anyMatch(Thread::isAlive)) {
        throw new IllegalStateException(String.format("NCCL did not release the %d communicators of a "
            + "tensor-parallel group within %d s (%s)", comms.length, RELEASE_TIMEOUT_NANOS / 1_000_000_000L,
            abort ? "ncclCommAbort" : "ncclCommDestroy"));
      }
      if (!failures.isEmpty()) {
        throw failures.get(0);
      }
    }
  }

  private static final long RELEASE_TIMEOUT_NANOS = 60_000_000_000L;

  private final int rank;
  private final int size;
  private final long comm;
  private final Group group;

  private NcclCommunicator(int rank, int size, long comm, Group group) {
    this.rank = rank;
    this.size = size;
    this.comm = comm;
    this.group = group;
  }

  /** Opens a group over {@code ranks} (rank i = ranks.get(i)), which must be CUDA backends on distinct devices. */
  static List<Communicator> open(List<CudaBackend> ranks) {
    int[] devices = new int[ranks.size()];
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < devices.length; i++) {
      devices[i] = ranks.get(i).device();
      if (!seen.add(devices[i])) {
        throw new IllegalArgumentException(String.format("tensor-parallel ranks need distinct GPUs, but the ranks' "
            + "devices are %s (NCCL runs one rank per GPU)", Arrays.toString(devices)));
      }
    }
    CudaNative.ncclVersion(ranks.get(0).ncclPath().orElse(null));
    long[] comms = CudaNative.ncclInitAll(devices);
    Group group = new Group(comms);
    List<Communicator> out = new ArrayList<>(comms.length);
    for (int i = 0; i < comms.length; i++) {
      out.add(new NcclCommunicator(i, comms.length, comms[i], group));
    }
    return List.copyOf(out);
  }

  /** The loaded NCCL's version as "2.27.3", loading it from {@code path} or the default places. */
  static String version(String path) {
    int v = CudaNative.ncclVersion(path);
    return v >= 10000 ? (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100)
        : (v / 1000) + "." + (v / 100 % 10) + "." + (v % 100);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public Tensor allReduceSum(ForwardStep step, Tensor x) {
    return StepCollectives.allReduceSum(cuda(step), live(), x);
  }

  @Override
  public Tensor allGatherColumns(ForwardStep step, Tensor x) {
    return StepCollectives.allGatherColumns(cuda(step), live(), size, x);
  }

  private long live() {
    if (group.released()) {
      throw new IllegalStateException("rank " + rank + ": this NCCL group was aborted or closed; open a new one");
    }
    return comm;
  }

  private static CudaForwardStep cuda(ForwardStep step) {
    if (step instanceof CudaForwardStep s) {
      return s;
    }
    throw new IllegalArgumentException("an NCCL communicator needs a CUDA forward step, got " + step);
  }

  /** ncclCommAbort on every rank of the group (pending collectives are cancelled); the group is then unusable. */
  @Override
  public void abort() {
    group.release(true);
  }

  /** ncclCommDestroy on every rank of the group, concurrently; the other ranks' close is then a no-op. */
  @Override
  public void close() {
    group.release(false);
  }
}

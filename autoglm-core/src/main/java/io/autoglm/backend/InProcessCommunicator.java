package io.autoglm.backend;

import java.util.ArrayList;
import java.util.List;

/**
 * Ranks in one JVM exchanging through host memory. Each collective: every rank publishes its rows, all meet at a
 * barrier, every rank computes the same result in rank order (so the bits agree), and all meet again before the
 * published rows may be replaced. After {@link #abort} every collective fails at once; open a new group.
 */
final class InProcessCommunicator implements Communicator {
  /** State the ranks of one group share; a generation barrier that {@link #abort} breaks for good. */
  private static final class Shared {
    final float[][][] published; // per rank: (T, cols_r) of the collective in progress
    private int arrived;
    private long generation;
    private boolean aborted;

    Shared(int size) {
      published = new float[size][][];
    }

    synchronized void meet(int rank) throws InterruptedException {
      if (aborted) {
        throw new IllegalStateException("rank " + rank + ": the group was aborted after another rank failed");
      }
      long mine = generation;
      if (++arrived == published.length) {
        arrived = 0;
        generation++;
        notifyAll();
        return;
      }
      while (generation == mine && !aborted) {
        wait();
      }
      if (generation == mine) {
        throw new IllegalStateException("rank " + rank + ": the group was aborted after another rank failed");
      }
    }

    synchronized void abort() {
      aborted = true;
      notifyAll();
    }
  }

  private final Shared shared;
  private final int rank;

  private InProcessCommunicator(Shared shared, int rank) {
    this.shared = shared;
    this.rank = rank;
  }

  static List<Communicator> group(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("communicator group size (" + size + ") must be >= 1");
    }
    Shared shared = new Shared(size);
    List<Communicator> out = new ArrayList<>(size);
    for (int r = 0; r < size; r++) {
      out.add(new InProcessCommunicator(shared, r));
    }
    return List.copyOf(out);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return shared.published.length;
  }

  @Override
  public Tensor allReduceSum(ForwardStep step, Tensor x) {
    float[][][] all = exchange(step.toHost(x));
    int rows = all[0].length;
    int cols = rows == 0 ? 0 : all[0][0].length;
    float[] sum = new float[rows * cols];
    for (float[][] part : all) {
      if (part.length != rows || (rows > 0 && part[0].length != cols)) {
        throw new IllegalStateException(String.format(
            "allReduceSum: rank %d holds (%d, %d), rank 0 holds (%d, %d)", indexOf(all, part), part.length,
            rows > 0 ? part[0].length : 0, rows, cols));
      }
      for (int r = 0; r < rows; r++) {
        float[] row = part[r];
        for (int c = 0; c < cols; c++) {
          sum[r * cols + c] += row[c];
        }
      }
    }
    meet(); // nobody republishes before every rank has read
    return step.fromHost(sum, rows, cols);
  }

  @Override
  public Tensor allGatherColumns(ForwardStep step, Tensor x) {
    float[][][] all = exchange(step.toHost(x));
    int rows = all[0].length;
    int cols = 0;
    for (float[][] part : all) {
      if (part.length != rows) {
        throw new IllegalStateException(String.format(
            "allGatherColumns: rank %d holds %d rows, rank 0 holds %d", indexOf(all, part), part.length, rows));
      }
      cols += rows == 0 ? 0 : part[0].length;
    }
    float[] out = new float[rows * cols];
    int at = 0;
    for (float[][] part : all) {
      int width = rows == 0 ? 0 : part[0].length;
      for (int r = 0; r < rows; r++) {
        System.arraycopy(part[r], 0, out, r * cols + at, width);
      }
      at += width;
    }
    meet();
    return step.fromHost(out, rows, cols);
  }

  private float[][][] exchange(float[][] mine) {
    shared.published[rank] = mine;
    meet();
    return shared.published.clone();
  }

  private static int indexOf(float[][][] all, float[][] part) {
    for (int i = 0; i < all.length; i++) {
      if (all[i] == part) {
        return i;
      }
    }
    return -1;
  }

  private void meet() {
    try {
      shared.meet(rank);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      shared.abort();
      throw new IllegalStateException("rank " + rank + " was interrupted in a collective", e);
    }
  }

  @Override
  public void abort() {
    shared.abort();
  }
}

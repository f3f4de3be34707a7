package io.autoglm.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;

/**
 * The bump-allocated memory of one forward step: an activation arena on the device, and an input arena on the
 * device mirrored byte for byte by pinned host memory. Both reset at every step, so the same op sequence gets the
 * same addresses every time — which is what lets a captured CUDA graph replay a later step.
 * Invariant: {@code 0 <= used <= capacity} for both arenas; inputs are written to the mirror at the device offset.
 */
final class StepMemory implements AutoCloseable {
  private static final int ALIGN = 256;

  private final long ctx;
  private final long activationBase; // device, activationBytes
  private final long activationBytes;
  private final long inputBase; // device, inputBytes
  private final ByteBuffer inputHost; // pinned mirror of the input arena, native order
  private final long inputHostAddress;
  private final long tableBase; // device, tableHost.capacity(): the block tables, at one address for every step
  private final ByteBuffer tableHost; // pinned
  private final long tableHostAddress;
  private long activationUsed;
  private long inputUsed;
  private long peakActivationBytes;

  StepMemory(long ctx, long activationBytes, long inputBytes, long tableBytes) {
    this.ctx = ctx;
    this.activationBytes = activationBytes;
    // allocated one by one; when one fails (out of memory) the ones before it are given back
    long activation = 0;
    long input = 0;
    long tables = 0;
    ByteBuffer inputMirror = null;
    ByteBuffer tableMirror = null;
    try {
      activation = CudaNative.malloc(ctx, activationBytes);
      input = CudaNative.malloc(ctx, inputBytes);
      inputMirror = CudaNative.hostAlloc(inputBytes).order(ByteOrder.nativeOrder());
      tables = CudaNative.malloc(ctx, tableBytes);
      tableMirror = CudaNative.hostAlloc(tableBytes).order(ByteOrder.nativeOrder());
    } catch (RuntimeException | Error e) {
      for (long ptr : new long[] {activation, input, tables}) {
        if (ptr != 0) {
          CudaNative.free(ctx, ptr);
        }
      }
      if (inputMirror != null) {
        CudaNative.hostFree(inputMirror);
      }
      throw e;
    }
    this.activationBase = activation;
    this.inputBase = input;
    this.inputHost = inputMirror;
    this.inputHostAddress = CudaNative.address(inputMirror);
    this.tableBase = tables;
    this.tableHost = tableMirror;
    this.tableHostAddress = CudaNative.address(tableMirror);
  }

  /**
   * Writes the step's block tables ({@code count} ints) to the table region and queues their copy to the device,
   * outside any graph: the region has one device address for every step, so a captured graph reads whatever
   * tables the step before its launch copied there, whatever their width. Returns the region's device address.
   */
  long tables(int[] table, int count, long ctx) {
    long bytes = 4L * count;
    if (bytes > tableHost.capacity()) {
      throw new IllegalStateException(String.format("this step's block tables need %d bytes, more than the table "
          + "region's %d (property cuda.tableBytes)", bytes, tableHost.capacity()));
    }
    tableHost.clear();
    tableHost.asIntBuffer().put(table, 0, count);
    CudaNative.copyAsync(ctx, tableBase, tableHostAddress, bytes);
    return tableBase;
  }

  void reset() {
    activationUsed = 0;
    inputUsed = 0;
  }

  /** Device bytes for an activation, 256-byte aligned. */
  long allocate(long bytes) {
    long at = activationUsed;
    long next = at + (bytes + ALIGN - 1) / ALIGN * ALIGN;
    if (next > activationBytes) {
      throw new IllegalStateException(String.format(
          "this step needs more than the activation arena's %d bytes (property cuda.arenaBytes); "
              + "schedule fewer tokens per step or raise it", activationBytes));
    }
    activationUsed = next;
    peakActivationBytes = Math.max(peakActivationBytes, next);
    return activationBase + at;
  }

  /** A reserved piece of the input arena: write {@code host}, then copy {@code hostAddress} to {@code device}. */
  record Input(ByteBuffer host, long device, long hostAddress, long bytes) {}

  /** Reserves {@code bytes} of the input arena, 256-byte aligned. */
  Input input(long bytes) {
    long at = inputUsed;
    long next = at + (bytes + ALIGN - 1) / ALIGN * ALIGN;
    if (next > inputHost.capacity()) {
      throw new IllegalStateException("this step's inputs need more than the input arena's "
          + inputHost.capacity() + " bytes (property cuda.inputArenaBytes)");
    }
    inputUsed = next;
    ByteBuffer view = inputHost.duplicate();
    view.position((int) at).limit((int) (at + bytes));
    return new Input(view.slice().order(ByteOrder.nativeOrder()), inputBase + at, inputHostAddress + at, bytes);
  }

  /**
   * An input of {@code values} padded with {@code padValue} to {@code length} ints, then {@code tail}: bulk puts (a
   * per-int loop runs interpreted in a process's first steps, about 0.1 ms per 1,024 ints).
   */
  Input ints(int[] values, int length, int padValue, int[] tail) {
    Input in = input(4L * (length + tail.length));
    putInts(in.host().asIntBuffer(), values, length, padValue, tail);
    return in;
  }

  /** Writes the first {@code length} of {@code values} (padded with {@code padValue}), then {@code tail}, to b. */
  static void putInts(IntBuffer b, int[] values, int length, int padValue, int[] tail) {
    int n = Math.min(length, values.length);
    b.put(values, 0, n);
    for (int i = n; i < length; i++) {
      b.put(padValue);
    }
    b.put(tail);
  }

  long peakActivationBytes() {
    return peakActivationBytes;
  }

  @Override
  public void close() {
    CudaNative.free(ctx, activationBase);
    CudaNative.free(ctx, inputBase);
    CudaNative.hostFree(inputHost);
    CudaNative.free(ctx, tableBase);
    CudaNative.hostFree(tableHost);
  }
}

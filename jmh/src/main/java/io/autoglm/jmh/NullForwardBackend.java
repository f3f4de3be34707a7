package io.autoglm.jmh;

import io.autoglm.backend.BackendOptions;
import io.autoglm.backend.ComputeBackend;
import io.autoglm.backend.ComputeBackendProvider;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.KvCache;
import io.autoglm.backend.KvLayout;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.safetensors.TensorSlice;
import java.util.List;

/**
 * A backend whose forward pass costs (almost) nothing, so that a benchmark of the real engine on it measures the
 * engine's own host work per step: every op returns a shape-only tensor, and sampling picks a token that is a pure
 * function of (seed, step) below the row's vocab limit, like a seeded draw. Selected by name ({@code backend("null")});
 * it is never picked by default (priority -1 and only in this module's jar).
 */
public final class NullForwardBackend implements ComputeBackend {
  /** Backend property: µs each step's sampling waits (parked, as for a device step); default 0. */
  public static final String DEVICE_MICROS = "null.deviceMicros";

  private final long deviceNanos;

  NullForwardBackend(long deviceNanos) {
    this.deviceNanos = deviceNanos;
  }

  /** Shape only. */
  record Shape(long[] shape) implements Tensor {}

  /** The ServiceLoader entry. */
  public static final class Provider implements ComputeBackendProvider {
    @Override
    public String name() {
      return "null";
    }

    @Override
    public int priority() {
      return -1;
    }

    @Override
    public boolean isAvailable() {
      return true;
    }

    @Override
    public String unavailableReason() {
      return "";
    }

    @Override
    public ComputeBackend create(BackendOptions options) {
      return new NullForwardBackend(1000L * Long.parseLong(options.properties().getOrDefault(DEVICE_MICROS, "0")));
    }
  }

  @Override
  public String name() {
    return "null";
  }

  @Override
  public Tensor weight(TensorSlice slice) {
    return new Shape(slice.shape().clone());
  }

  @Override
  public Tensor fusedWeight(List<TensorSlice> rowBlocks) {
    long rows = 0;
    for (TensorSlice s : rowBlocks) {
      rows += s.shape()[0];
    }
    long[] shape = rowBlocks.get(0).shape().clone();
    shape[0] = rows;
    return new Shape(shape);
  }

  @Override
  public KvCache allocateKv(KvLayout layout) {
    return new KvCache() {
      @Override
      public KvLayout layout() {
        return layout;
      }

      @Override
      public void close() {}
    };
  }

  @Override
  public ForwardStep begin(StepBatch batch, KvCache kv) {
    return new Step(batch.numTokens(), deviceNanos);
  }

  @Override
  public int weightBytesPerElement() {
    return 2;
  }

  @Override
  public void close() {}

  /** A token for (seed, step): a SplitMix64 finaliser, so rows and steps differ as random draws would. */
  static int token(long seed, int step, int limit) {
    long z = seed + 0x9E3779B97F4A7C15L * (step + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z ^= z >>> 31;
    return (int) Math.floorMod(z, (long) limit);
  }

  private static final class Step implements ForwardStep {
    private final long tokens;
    private final long deviceNanos;

    Step(int tokens, long deviceNanos) {
      this.tokens = tokens;
      this.deviceNanos = deviceNanos;
    }

    private Tensor rowsOf(long cols) {
      return new Shape(new long[] {tokens, cols});
    }

    private static long cols(Tensor t) {
      return t.shape()[t.shape().length - 1];
    }

    @Override
    public Tensor embedding(Tensor table) {
      return rowsOf(cols(table));
    }

    @Override
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
      return x;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
      return a;
    }

    @Override
    public Tensor linear(Tensor x, Tensor w) {
      return new Shape(new long[] {x.shape()[0], w.shape()[0]});
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias) {
      return linear(x, w);
    }

    @Override
    public Tensor siluMul(Tensor gateUp) {
      return new Shape(new long[] {gateUp.shape()[0], cols(gateUp) / 2});
    }

    @Override
    public Tensor columns(Tensor x, int from, int width) {
      return new Shape(new long[] {x.shape()[0], width});
    }

    @Override
    public Tensor rope(Tensor x, int numHeads, RopeSpec spec) {
      return x;
    }

    @Override
    public void writeKv(int layer, Tensor k, Tensor v) {}

    @Override
    public Tensor attention(int layer, Tensor q, int numHeads, float scale) {
      return q;
    }

    @Override
    public Tensor rows(Tensor x, int[] rows) {
      return new Shape(new long[] {rows.length, cols(x)});
    }

    @Override
    public float[][] toHost(Tensor x) {
      return new float[(int) x.shape()[0]][(int) cols(x)];
    }

    @Override
    public int[] sample(Tensor logits, List<SamplingRow> rows) {
      if (deviceNanos > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(deviceNanos);
      }
      int[] out = new int[rows.size()];
      for (int i = 0; i < out.length; i++) {
        SamplingRow r = rows.get(i);
        out[i] = token(r.seed(), r.step(), r.sampleableColumns((int) cols(logits)));
      }
      return out;
    }

    @Override
    public void close() {}
  }
}

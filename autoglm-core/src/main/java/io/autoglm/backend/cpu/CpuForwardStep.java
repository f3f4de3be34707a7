package io.autoglm.backend.cpu;

import static io.autoglm.backend.cpu.DjlCpuBackend.nd;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import io.autoglm.backend.ExpertRouting;
import io.autoglm.backend.ForwardStep;
import io.autoglm.backend.MoeRouter;
import io.autoglm.backend.MoeWeights;
import io.autoglm.backend.RopeSpec;
import io.autoglm.backend.SamplingRow;
import io.autoglm.backend.StepBatch;
import io.autoglm.backend.Tensor;
import io.autoglm.backend.cpu.DjlCpuBackend.CpuTensor;
import io.autoglm.sample.Sampler;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One forward step on the CPU. Everything it creates is registered in an {@link NDScope} and freed on close.
 * Attention runs per sequence over the slots its block table names, so sequences of any length mix in one step.
 */
final class CpuForwardStep implements ForwardStep {
  private final NDScope scope;
  private final NDManager manager;
  private final StepBatch batch;
  private final CpuKvCache kv;
  private final NDArray tokenIds; // (T) int64
  private final NDArray slots; // (T) int64
  private final NDArray[] contextSlots; // per sequence: (contextLen) int64, the slots of positions 0..contextLen-1
  private final NDArray[] causalMasks; // per sequence: (queryLen, contextLen) fp32 additive mask, or null for 1 query
  private final Map<RopeSpec, NDArray[]> ropeTables = new HashMap<>(); // spec -> {cos, sin}, each (T, 1, rot/2)

  CpuForwardStep(NDManager parent, StepBatch batch, CpuKvCache kv) {
    checkBlockTables(batch, kv.layout().blockSizeTokens()); // before anything is allocated
    this.scope = new NDScope();
    this.manager = parent.newSubManager();
    this.batch = batch;
    this.kv = kv;
    this.tokenIds = manager.create(toLongs(batch.tokenIds()));
    this.slots = manager.create(toLongs(batch.slots()));
    int n = batch.sequences().size();
    this.contextSlots = new NDArray[n];
    this.causalMasks = new NDArray[n];
    int blockSize = kv.layout().blockSizeTokens();
    for (int i = 0; i < n; i++) {
      StepBatch.Sequence s = batch.sequences().get(i);
      long[] ctx = new long[s.contextLen()];
      for (int p = 0; p < ctx.length; p++) {
        ctx[p] = (long) s.blockTable()[p / blockSize] * blockSize + p % blockSize;
      }
      contextSlots[i] = manager.create(ctx);
      if (s.queryLen() > 1) {
        causalMasks[i] = manager.create(causalMask(s.queryLen(), s.contextLen()), new Shape(s.queryLen(), s.contextLen()));
      }
    }
  }

  private static void checkBlockTables(StepBatch batch, int bs) {
    for (StepBatch.Sequence s : batch.sequences()) {
      s.blocksNeeded(bs);
    }
  }

  private static long[] toLongs(int[] values) {
    long[] out = new long[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }

  /** Query i sits at position contextLen - queryLen + i and sees keys 0..that position. */
  private static float[] causalMask(int queryLen, int contextLen) {
    float[] mask = new float[queryLen * contextLen];
    int offset = contextLen - queryLen;
    for (int i = 0; i < queryLen; i++) {
      for (int j = offset + i + 1; j < contextLen; j++) {
        mask[i * contextLen + j] = Float.NEGATIVE_INFINITY;
      }
    }
    return mask;
  }

  private static Tensor t(NDArray a) {
    return new CpuTensor(a);
  }

  @Override
  public Tensor embedding(Tensor table) {
    return t(nd(table).get(new NDIndex("{}", tokenIds)));
  }

  @Override
  public Tensor embedding(Tensor table, int firstRow) {
    NDArray rows = nd(table);
    long count = rows.getShape().get(0);
    NDArray local = tokenIds.sub(firstRow);
    NDArray inside = local.gte(0).logicalAnd(local.lt(count)); // (T) bool
    NDArray picked = rows.get(new NDIndex("{}", local.clip(0, count - 1)));
    return t(picked.mul(inside.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).expandDims(1)));
  }

  @Override
  public Tensor fromHost(float[] rowMajor, int rows, int cols) {
    if (rowMajor.length != rows * cols) {
      throw new IllegalArgumentException(String.format(
          "fromHost: %d values do not fill (%d, %d)", rowMajor.length, rows, cols));
    }
    return t(manager.create(rowMajor, new Shape(rows, cols)));
  }

  @Override
  public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
    NDArray a = nd(x);
    NDArray variance = a.square().mean(new int[] {-1}, true);
    return t(a.mul(variance.add(eps).sqrt().pow(-1)).mul(nd(weight)));
  }

  @Override
  public Tensor add(Tensor a, Tensor b) {
    return t(nd(a).add(nd(b)));
  }

  @Override
  public Tensor linear(Tensor x, Tensor w) {
    return t(Linear.linear(nd(x), nd(w)).singletonOrThrow());
  }

  @Override
  public Tensor linear(Tensor x, Tensor w, Tensor bias) {
    return t(Linear.linear(nd(x), nd(w), nd(bias)).singletonOrThrow());
  }

  @Override
  public Tensor siluMul(Tensor gateUp) {
    NDArray a = nd(gateUp);
    long half = a.getShape().get(1) / 2;
    NDArray gate = a.get(new NDIndex(":, 0:" + half));
    NDArray up = a.get(new NDIndex(":, " + half + ":"));
    return t(gate.mul(Activation.sigmoid(gate)).mul(up));
  }

  @Override
  public Tensor columns(Tensor x, int from, int width) {
    NDArray a = nd(x);
    long cols = a.getShape().get(1);
    if (from < 0 || width < 0 || from + width > cols) {
      throw new IllegalArgumentException(String.format("columns [%d, %d) of a tensor with %d", from, from + width,
          cols));
    }
    return t(a.get(new NDIndex(":, " + from + ":" + (from + width))));
  }

  @Override
  public Tensor rope(Tensor x, int numHeads, RopeSpec spec) {
    NDArray a = nd(x);
    int tokens = batch.numTokens();
    int half = spec.rotaryDim() / 2;
    NDArray[] cs = ropeTables.computeIfAbsent(spec, this::ropeTable);
    NDArray heads = a.reshape(tokens, numHeads, spec.headDim());
    NDArray rot = heads.get(new NDIndex(":, :, 0:" + spec.rotaryDim()));
    NDArray x1;
    NDArray x2;
    if (spec.interleaved()) {
      NDArray pairs = rot.reshape(tokens, numHeads, half, 2);
      x1 = pairs.get(new NDIndex(":, :, :, 0"));
      x2 = pairs.get(new NDIndex(":, :, :, 1"));
    } else {
      x1 = rot.get(new NDIndex(":, :, 0:" + half));
      x2 = rot.get(new NDIndex(":, :, " + half + ":"));
    }
    NDArray cos = cs[0];
    NDArray sin = cs[1];
    NDArray o1 = x1.mul(cos).sub(x2.mul(sin));
    NDArray o2 = x2.mul(cos).add(x1.mul(sin));
    NDArray rotated = spec.interleaved()
        ? NDArrays.stack(new NDList(o1, o2), 3).reshape(tokens, numHeads, spec.rotaryDim())
        : NDArrays.concat(new NDList(o1, o2), 2);
    NDArray out = spec.rotaryDim() == spec.headDim()
        ? rotated
        : NDArrays.concat(new NDList(rotated, heads.get(new NDIndex(":, :, " + spec.rotaryDim() + ":"))), 2);
    return t(out.reshape(tokens, (long) numHeads * spec.headDim()));
  }

  /** cos and sin of position × inverse frequency, in fp32 as transformers computes them: each (T, 1, rot/2). */
  private NDArray[] ropeTable(RopeSpec spec) {
    float[] inv = spec.inverseFrequencies();
    int[] positions = batch.positions();
    float[] cos = new float[positions.length * inv.length];
    float[] sin = new float[cos.length];
    for (int i = 0; i < positions.length; i++) {
      for (int j = 0; j < inv.length; j++) {
        float angle = positions[i] * inv[j];
        cos[i * inv.length + j] = (float) Math.cos(angle);
        sin[i * inv.length + j] = (float) Math.sin(angle);
      }
    }
    Shape shape = new Shape(positions.length, 1, inv.length);
    return new NDArray[] {manager.create(cos, shape), manager.create(sin, shape)};
  }

  @Override
  public void writeKv(int layer, Tensor k, Tensor v) {
    int kvHeads = kv.layout().numKvHeads();
    int headDim = kv.layout().headDim();
    NDIndex at = new NDIndex("{}", slots);
    kv.k[layer].set(at, kv.stored(manager, nd(k)).reshape(batch.numTokens(), kvHeads, headDim));
    kv.v[layer].set(at, kv.stored(manager, nd(v)).reshape(batch.numTokens(), kvHeads, headDim));
  }

  @Override
  public Tensor attention(int layer, Tensor q, int numHeads, float scale) {
    int kvHeads = kv.layout().numKvHeads();
    int headDim = kv.layout().headDim();
    int group = numHeads / kvHeads;
    NDArray all = nd(q);
    List<NDArray> outs = new ArrayList<>(batch.sequences().size());
    for (int i = 0; i < batch.sequences().size(); i++) {
      StepBatch.Sequence s = batch.sequences().get(i);
      int len = s.queryLen();
      int ctx = s.contextLen();
      // (len, H·d) -> (H, len, d) -> (kvH, group·len, d): head h = kv·group + g, so each KV head serves its group.
      NDArray qs = all.get(new NDIndex(s.queryStart() + ":" + (s.queryStart() + len)))
          .reshape(len, numHeads, headDim).transpose(1, 0, 2).reshape(kvHeads, (long) group * len, headDim);
      NDIndex at = new NDIndex("{}", contextSlots[i]);
      NDArray ks = kv.k[layer].get(at).transpose(1, 2, 0); // (kvH, d, ctx)
      NDArray vs = kv.v[layer].get(at).transpose(1, 0, 2); // (kvH, ctx, d)
      NDArray scores = qs.matMul(ks).mul(scale); // (kvH, group·len, ctx)
      if (causalMasks[i] != null) {
        scores = scores.reshape(kvHeads, group, len, ctx).add(causalMasks[i]).reshape(kvHeads, (long) group * len, ctx);
      }
      NDArray out = scores.softmax(-1).matMul(vs); // (kvH, group·len, d)
      outs.add(out.reshape(numHeads, len, headDim).transpose(1, 0, 2).reshape(len, (long) numHeads * headDim));
    }
    return t(outs.size() == 1 ? outs.get(0) : NDArrays.concat(new NDList(outs), 0));
  }

  @Override
  public Tensor headRmsNorm(Tensor x, int numHeads, Tensor weight, float eps) {
    return t(CpuMoe.headRmsNorm(nd(x), numHeads, nd(weight), eps));
  }

  @Override
  public ExpertRouting route(Tensor x, MoeWeights weights, MoeRouter router) {
    return CpuMoe.route(nd(x), weights, router);
  }

  @Override
  public Tensor moe(Tensor x, MoeWeights weights, ExpertRouting routing) {
    return t(CpuMoe.moe(manager, nd(x), weights, routing));
  }

  @Override
  public Tensor rows(Tensor x, int[] rows) {
    return t(nd(x).get(new NDIndex("{}", manager.create(toLongs(rows)))));
  }

  @Override
  public float[][] toHost(Tensor x) {
    NDArray a = nd(x);
    int rows = (int) a.getShape().get(0);
    int cols = (int) (a.getShape().size() / Math.max(rows, 1));
    float[] flat = a.toFloatArray();
    float[][] out = new float[rows][];
    for (int r = 0; r < rows; r++) {
      out[r] = java.util.Arrays.copyOfRange(flat, r * cols, (r + 1) * cols);
    }
    return out;
  }

  /** Samples on the host: the logits are copied over and each row drawn by {@link Sampler}. */
  @Override
  public int[] sample(Tensor logits, List<SamplingRow> rows) {
    return Sampler.sampleRows(toHost(logits), rows);
  }

  @Override
  public void close() {
    scope.close();
    manager.close();
  }
}

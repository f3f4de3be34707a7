// Self-check of the tensor-core decode attention (attention_decode_tc.cu) against the decode kernels of
// launchAttention and a double-precision CPU reference: JNI entry points of io.autoglm.cuda.CudaSelfTests.
#include "bridge.cuh"
#include "attention.cuh"
#include "attention_decode_tc.cuh"
#include "selftest.cuh"

#undef JNI
#define JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaSelfTests_##name

namespace {

/** A decode step of the self-check: one query row per sequence (its last position), KV blocks, attention splits. */
struct DecodeCase {
  std::vector<int> contexts;
  int bs;         // tokens per KV block
  int partition;  // 0: dynamic (graph steps)
  int splits;
  bool counters;  // whether the kernel merges its splits itself
};

constexpr int DECODE_TC_CASES = 9;

DecodeCase decodeCase(int c) {
  DecodeCase d;
  switch (c) {
    case 0:  // one row of context 1, one split
      return {{1}, 16, 32, 1, true};
    case 1:  // small-batch decode, static splits of 64 (one past the longest context)
      return {{1, 45, 300}, 16, 64, 6, true};
    case 2:  // batch 64 as the batch-64 graph runs it (contexts 70-199, dynamic splits, 4 of them)
      d = {{}, 16, 0, 4, true};
      for (int i = 0; i < 64; i++) d.contexts.push_back(70 + (i * 37) % 130);
      return d;
    case 3:  // batch 256 as its graph runs it (one split)
      d = {{}, 16, 0, 1, true};
      for (int i = 0; i < 256; i++) d.contexts.push_back(100 + (i * 53) % 65);
      return d;
    case 4:  // long contexts up to 4,096 around tile and page boundaries, blocks of 32, 64 dynamic splits
      return {{4096, 4095, 2049, 2048, 1025, 64, 65, 17}, 32, 0, 64, true};
    case 5:  // 128 static splits of 32 merged by the combine kernel (no counters), blocks of 1 token
      return {{4096, 3001}, 1, 32, 128, false};
    case 6:  // contexts at page boundaries, static splits of 32
      return {{16, 17, 15, 33, 128}, 16, 32, 4, true};
    case 7:  // batch 128, contexts 1-128, blocks of 8, 2 dynamic splits merged by the combine kernel
      d = {{}, 8, 0, 2, false};
      for (int i = 0; i < 128; i++) d.contexts.push_back(i + 1);
      return d;
    default:  // batch 256 with 4 dynamic splits (a split choice the timing table tries), contexts 100-164
      d = {{}, 16, 0, 4, true};
      for (int i = 0; i < 256; i++) d.contexts.push_back(100 + (i * 53) % 65);
      return d;
  }
}

inline float bf16Host(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}

using selftest::Scratch;

/** out (rows, heads·headDim) of softmax attention of each row's query over its slots, in double precision. */
void reference(std::vector<double>& out, const std::vector<uint16_t>& q, int ldq, const std::vector<uint16_t>& kc,
               const std::vector<uint16_t>& vc, const std::vector<std::vector<int>>& slots, int heads, int kvHeads,
               int headDim, double scale) {
  int rows = (int)slots.size(), group = heads / kvHeads;
  auto one = [&](int t, int h, std::vector<double>& w) {
    int kh = h / group, n = (int)slots[t].size();
    w.assign(n, 0.0);
    double mx = -1e300;
    const uint16_t* qh = q.data() + (size_t)t * ldq + (size_t)h * headDim;
    for (int p = 0; p < n; p++) {
      const uint16_t* k = kc.data() + ((size_t)slots[t][p] * kvHeads + kh) * headDim;
      double s = 0;
      for (int d = 0; d < headDim; d++) s += (double)bf16Host(qh[d]) * bf16Host(k[d]);
      w[p] = s * scale;
      mx = std::max(mx, w[p]);
    }
    double sum = 0;
    for (int p = 0; p < n; p++) sum += (w[p] = exp(w[p] - mx));
    double* o = out.data() + ((size_t)t * heads + h) * headDim;
    for (int d = 0; d < headDim; d++) o[d] = 0;
    for (int p = 0; p < n; p++) {
      const uint16_t* v = vc.data() + ((size_t)slots[t][p] * kvHeads + kh) * headDim;
      for (int d = 0; d < headDim; d++) o[d] += w[p] * bf16Host(v[d]);
    }
    for (int d = 0; d < headDim; d++) o[d] /= sum;
  };
  int threads = (int)std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; i++) {
    pool.emplace_back([&, i]() {
      std::vector<double> w;
      for (int j = i; j < rows * heads; j += threads) one(j / heads, j % heads, w);
    });
  }
  for (auto& th : pool) th.join();
}

}  // namespace

/** Number of decode self-check steps (selfTestDecodeAttentionTc's `which`). */
JNI(jint, decodeTcCases)(JNIEnv*, jclass) { return DECODE_TC_CASES; }

/**
 * Self-check of the tensor-core decode attention on random data (q in [-3, 3), K in [-1, 1), V in [-0.5, 0.5)) in
 * step `which` of decodeCase (KV blocks in shuffled order), against launchAttention (the decode kernels, which the
 * attention self-check verifies against the CPU reference) and the double-precision CPU reference when that costs at
 * most 2e9 multiply-adds, with the bound of the prefill-attention self-check: 2^-9·max|v| + 2^-8·|other| + 2e-5.
 * Returns {elements outside the bound (either comparison) + split counters not left 0, max |new − old|, max |new −
 * old| / bound, rows, max |new − ref| (-1: no reference)}, {-1} when the kernel refuses the shape, or null after an
 * exception.
 */
JNI(jdoubleArray, selfTestDecodeAttentionTc)(JNIEnv* env, jclass, jlong h, jint heads, jint kvHeads, jint headDim,
                                             jint which, jlong seed) {
  Context* c = ctx(h);
  Scratch m(seed, c->stream);
  DecodeCase dc = decodeCase(which);
  int bs = dc.bs, rows = (int)dc.contexts.size(), stride = 0;
  for (int n : dc.contexts) stride = std::max(stride, (n + bs - 1) / bs);
  int blocks = rows * stride;
  std::vector<int> perm(blocks), tables((size_t)rows * stride), tokSeq, pos;
  std::vector<std::vector<int>> slots(rows);
  for (int i = 0; i < blocks; i++) perm[i] = i;
  for (int i = blocks - 1; i > 0; i--) std::swap(perm[i], perm[(int)((m.next() + 0.5f) * (i + 1)) % (i + 1)]);
  for (int t = 0; t < rows; t++) {
    for (int b = 0; b < stride; b++) tables[(size_t)t * stride + b] = perm[t * stride + b];
    for (int p = 0; p < dc.contexts[t]; p++) slots[t].push_back(tables[(size_t)t * stride + p / bs] * bs + p % bs);
    tokSeq.push_back(t * stride);
    pos.push_back(dc.contexts[t] - 1);
  }
  int width = heads * headDim, ldq = width + 2 * kvHeads * headDim;
  size_t kvElems = (size_t)blocks * bs * kvHeads * headDim;
  std::vector<uint16_t> hq((size_t)rows * ldq), hk(kvElems), hv(kvElems);
  for (auto& x : hq) x = f32ToBf16(m.next() * 6.f);
  for (auto& x : hk) x = f32ToBf16(m.next() * 2.f);
  for (auto& x : hv) x = f32ToBf16(m.next());
  bf16* dq = (bf16*)m.upload(hq);
  bf16* dk = (bf16*)m.upload(hk);
  bf16* dv = (bf16*)m.upload(hv);
  int* dTables = m.upload(tables);
  int* dTokSeq = m.upload(tokSeq);
  int* dPos = m.upload(pos);
  bf16* dOld = (bf16*)m.zeros((size_t)rows * width * 2);
  bf16* dNew = (bf16*)m.zeros((size_t)rows * width * 2);
  float* dPart = (float*)m.zeros((size_t)rows * heads * dc.splits * (headDim + 2) * 4);
  int* dCounters = (int*)m.zeros((size_t)rows * heads * 4);
  if (!dq || !dk || !dv || !dTables || !dTokSeq || !dPos || !dOld || !dNew || !dPart || !dCounters) {
    throwIse(env, "selfTestDecodeAttentionTc: cudaMalloc failed");
    return nullptr;
  }
  float scale = 1.f / sqrtf((float)headDim);
  int* counters = dc.counters ? dCounters : nullptr;
  // tokSeq holds each row's table offset in ints, so the table stride is 1 (as CudaForwardStep passes it)
  if (!launchAttention(c->stream, dOld, dPart, counters, dq, ldq, dk, dv, dTokSeq, dPos, dTables, 1, bs, rows, heads,
                       kvHeads, headDim, scale, dc.partition, dc.splits)) {
    throwIse(env, "selfTestDecodeAttentionTc: no decode attention kernel for " + std::to_string(heads) +
                  " query heads over " + std::to_string(kvHeads) + " KV heads, headDim " + std::to_string(headDim));
    return nullptr;
  }
  bool served = launchDecodeAttentionTc(c->stream, dNew, dPart, counters, dq, ldq, dk, dv, dTokSeq, dPos, dTables, 1,
                                        bs, rows, heads, kvHeads, headDim, scale, dc.partition, dc.splits);
  if (!launched(env, "selfTestDecodeAttentionTc kernels") ||
      !ok(env, cudaStreamSynchronize(c->stream), "selfTestDecodeAttentionTc")) {
    return nullptr;
  }
  if (!served) {
    double refused = -1;
    jdoubleArray out = env->NewDoubleArray(1);
    env->SetDoubleArrayRegion(out, 0, 1, &refused);
    return out;
  }
  std::vector<uint16_t> got((size_t)rows * width), old((size_t)rows * width);
  std::vector<int> left((size_t)rows * heads);
  cudaMemcpy(got.data(), dNew, got.size() * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(old.data(), dOld, old.size() * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(left.data(), dCounters, left.size() * 4, cudaMemcpyDeviceToHost);
  double macs = 0;
  for (int n : dc.contexts) macs += 2.0 * n * width;
  std::vector<double> ref;
  if (macs <= 2e9) {
    ref.resize((size_t)rows * width);
    reference(ref, hq, ldq, hk, hv, slots, heads, kvHeads, headDim, scale);
  }
  const double vTerm = 0.5 / 512;  // 2^-9 · max|v|
  double bad = 0, maxDiff = 0, worst = 0, maxRef = ref.empty() ? -1 : 0;
  for (size_t i = 0; i < got.size(); i++) {
    double g = bf16Host(got[i]), o = bf16Host(old[i]);
    double d = fabs(g - o), bound = vTerm + fabs(o) / 256 + 2e-5;
    if (!(d <= bound)) bad++;
    if (d > maxDiff || d != d) maxDiff = d;
    worst = std::max(worst, d / bound);
    if (!ref.empty()) {
      double dr = fabs(g - ref[i]);
      if (!(dr <= vTerm + fabs(ref[i]) / 256 + 2e-5)) bad++;
      if (dr > maxRef || dr != dr) maxRef = dr;
    }
  }
  for (int v : left) bad += v != 0;  // both kernels leave their split counters at 0 for the next step
  double res[5] = {bad, maxDiff, worst, (double)rows, maxRef};
  jdoubleArray out = env->NewDoubleArray(5);
  env->SetDoubleArrayRegion(out, 0, 5, res);
  return out;
}

/** Variants of the tensor-core decode attention (setDecodeTcVariant's range is 0 .. this − 1). */
JNI(jint, decodeTcVariants)(JNIEnv*, jclass) { return DECODE_TC_VARIANTS; }

/** Warps per block of a variant (0: out of range). */
JNI(jint, decodeTcVariantWarps)(JNIEnv*, jclass, jint variant) { return decodeAttentionTcWarps(variant); }

/** The variant every later tensor-core decode attention launch of this process takes (a benchmark switch). */
JNI(void, setDecodeTcVariant)(JNIEnv*, jclass, jint variant) { setDecodeAttentionTcVariant(variant); }

/**
 * GPU µs per launch of the decode attention of `rows` decode rows of context `context` each (graph-style dynamic
 * splits, `splits` of them, with counters), 16-token KV blocks in shuffled order: the tensor-core kernel's variant
 * `variant` (setDecodeTcVariant's, restored after) or with variant −1 the decode kernels of launchAttention. `layers`
 * copies of the K/V cache are cycled (one per launch) so that consecutive launches do not find the cache in L2, as in
 * a model; `iters` timed launches after 3 warm-up ones. −1 when the tensor-core kernel refuses the shape.
 */
JNI(jdouble, timeDecodeAttention)(JNIEnv* env, jclass, jlong h, jint variant, jint heads, jint kvHeads, jint headDim,
                                  jint rows, jint context, jint splits, jint layers, jint iters) {
  Context* c = ctx(h);
  Scratch m(7, c->stream);
  const int bs = 16, stride = (context + bs - 1) / bs, blocks = rows * stride;
  std::vector<int> perm(blocks), tokSeq(rows), pos(rows, context - 1);
  for (int i = 0; i < blocks; i++) perm[i] = i;
  for (int i = blocks - 1; i > 0; i--) std::swap(perm[i], perm[(int)((m.next() + 0.5f) * (i + 1)) % (i + 1)]);
  for (int t = 0; t < rows; t++) tokSeq[t] = t * stride;
  int width = heads * headDim, ldq = width + 2 * kvHeads * headDim;
  size_t kvBytes = (size_t)blocks * bs * kvHeads * headDim * 2;
  std::vector<void*> k(layers), v(layers);
  bool fine = true;
  for (int l = 0; l < layers; l++) {
    k[l] = m.zeros(kvBytes);
    v[l] = m.zeros(kvBytes);
    fine &= k[l] != nullptr && v[l] != nullptr;
    if (fine) {  // bf16 0x3c3c ≈ 0.0115 everywhere: finite scores, the same work as any data
      cudaMemset(k[l], 0x3c, kvBytes);
      cudaMemset(v[l], 0x3c, kvBytes);
    }
  }
  bf16* dq = (bf16*)m.zeros((size_t)rows * ldq * 2);
  int* dTables = m.upload(perm);
  int* dTokSeq = m.upload(tokSeq);
  int* dPos = m.upload(pos);
  bf16* dOut = (bf16*)m.zeros((size_t)rows * width * 2);
  float* dPart = (float*)m.zeros((size_t)rows * heads * splits * (headDim + 2) * 4);
  int* dCounters = (int*)m.zeros((size_t)rows * heads * 4);
  cudaEvent_t e0, e1;
  if (!fine || !dq || !dTables || !dTokSeq || !dPos || !dOut || !dPart || !dCounters ||
      cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) {
    throwIse(env, "timeDecodeAttention: cudaMalloc failed (rows " + std::to_string(rows) + ", context " +
                  std::to_string(context) + ", layers " + std::to_string(layers) + ")");
    return -1;
  }
  cudaMemset(dq, 0x3c, (size_t)rows * ldq * 2);
  float scale = 1.f / sqrtf((float)headDim);
  auto one = [&](int l) {
    if (variant < 0) {
      return launchAttention(c->stream, dOut, dPart, dCounters, dq, ldq, (bf16*)k[l], (bf16*)v[l], dTokSeq, dPos,
                             dTables, 1, bs, rows, heads, kvHeads, headDim, scale, 0, splits);
    }
    return launchDecodeAttentionTc(c->stream, dOut, dPart, dCounters, dq, ldq, (bf16*)k[l], (bf16*)v[l], dTokSeq,
                                   dPos, dTables, 1, bs, rows, heads, kvHeads, headDim, scale, 0, splits);
  };
  int previous = decodeAttentionTcVariant();
  if (variant >= 0) setDecodeAttentionTcVariant(variant);
  bool served = true;
  for (int i = 0; i < 3 && served; i++) served = one(i % layers);
  cudaEventRecord(e0, c->stream);
  for (int i = 0; i < iters && served; i++) served = one(i % layers);
  cudaEventRecord(e1, c->stream);
  setDecodeAttentionTcVariant(previous);
  float ms = 0;
  bool good = launched(env, "timeDecodeAttention kernels") && ok(env, cudaEventSynchronize(e1), "timeDecodeAttention");
  if (good) cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (!good) return -1;
  return served ? 1000.0 * ms / iters : -1;
}

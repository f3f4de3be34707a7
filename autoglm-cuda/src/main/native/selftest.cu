// Kernel self-tests: JNI entry points of io.autoglm.cuda.CudaSelfTests, a class of the autoglm-cuda-bench jar (the
// library jar has no Java class that reaches them). They live in the backend's own library so that they run the very
// kernel binaries and process-wide settings (KernelConfig) that the backend runs: a second library would carry its
// own copy of every kernel, its own settings and a second static CUDA runtime in the process.
#include "bridge.cuh"
#include "attention.cuh"
#include "selftest.cuh"

#undef JNI
#define JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaSelfTests_##name

/**
 * Kernel self-check on random data: the fused gate_up GEMV + SiLU·mul against the GEMV followed by siluMul, for
 * `rows` rows, `in` inputs and `inter` outputs. Returns the number of output elements that differ bit for bit, or -1
 * when the fused kernel declines these shapes.
 */
JNI(jlong, selfTestGemvSilu)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint inter, jlong seed) {
  Context* c = ctx(h);
  size_t nw = (size_t)2 * inter * in, nx = (size_t)rows * in, ny = (size_t)rows * inter;
  uint16_t* hw = new uint16_t[nw];
  uint16_t* hx = new uint16_t[nx];
  unsigned long long z = (unsigned long long)seed;
  auto next = [&]() { z = z * 6364136223846793005ull + 1442695040888963407ull; return (float)((z >> 40) & 0xffff) / 65536.f - 0.5f; };
  for (size_t i = 0; i < nw; i++) hw[i] = f32ToBf16(next() * 0.05f);
  for (size_t i = 0; i < nx; i++) hx[i] = f32ToBf16(next() * 2.f);
  bf16 *w, *x, *gu, *y1, *y2;
  CK(cudaMalloc(&w, nw * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&x, nx * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&gu, (size_t)rows * 2 * inter * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&y1, ny * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&y2, ny * 2), "cudaMalloc(selfTest)", -2);
  // on the context's (non-blocking) stream, waited for: the kernels below run on it, and hw, hx are pageable
  cudaMemcpyAsync(w, hw, nw * 2, cudaMemcpyHostToDevice, c->stream);
  cudaMemcpyAsync(x, hx, nx * 2, cudaMemcpyHostToDevice, c->stream);
  long long diff = -1;
  if (ok(env, cudaStreamSynchronize(c->stream), "selfTestGemvSilu upload") &&
      launchGemvSilu(c->stream, y1, x, in, w, rows, in, inter)) {
    launchGemv(c->stream, gu, 2 * inter, false, x, in, w, nullptr, rows, in, 2 * inter);
    launchSiluMul(c->stream, y2, gu, 2 * inter, rows, inter);
    cudaError_t e = cudaStreamSynchronize(c->stream);
    if (e == cudaSuccess) {
      uint16_t* a = new uint16_t[ny];
      uint16_t* b = new uint16_t[ny];
      cudaMemcpy(a, y1, ny * 2, cudaMemcpyDeviceToHost);
      cudaMemcpy(b, y2, ny * 2, cudaMemcpyDeviceToHost);
      diff = 0;
      for (size_t i = 0; i < ny; i++) diff += a[i] != b[i];
      delete[] a;
      delete[] b;
    } else {
      ok(env, e, "selfTestGemvSilu kernels");
    }
  }
  cudaFree(w); cudaFree(x); cudaFree(gu); cudaFree(y1); cudaFree(y2);
  delete[] hw;
  delete[] hx;
  return diff;
}

namespace {
using selftest::Scratch;

/** The number of 16-bit elements that differ between two device arrays of n. */
long long differing(const void* x, const void* y, size_t n) {
  std::vector<uint16_t> a(n), b(n);
  cudaMemcpy(a.data(), x, n * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(b.data(), y, n * 2, cudaMemcpyDeviceToHost);
  long long d = 0;
  for (size_t i = 0; i < n; i++) d += a[i] != b[i];
  return d;
}
}  // namespace

/**
 * The row kernels of prefill-sized steps on random data: addRmsNorm, siluMul and ropeQkv (interleaved, rotary dim
 * 64, heads over kvHeads of 128, distinct slots) over `rows` rows with their 16-byte variants on and off, at the
 * same shapes; and ropeQkv with the QKV bias folded in (both variants) against addBias then ropeQkv. Returns the
 * number of outputs (sums, normed rows, SiLU·mul, q, K and V cache) that differ bit for bit (0 expected), -2 when
 * device memory ran out.
 */
JNI(jlong, selfTestRowKernels)(JNIEnv* env, jclass, jlong h, jint rows, jint n, jint inter, jint heads, jint kvHeads,
                               jlong seed) {
  Context* c = ctx(h);
  Scratch m(seed, c->stream);
  const int hd = 128, rot = 64, qkv = (heads + 2 * kvHeads) * hd, kvw = kvHeads * hd;
  bf16* a = m.random((size_t)rows * n, 4.f);
  bf16* b = m.random((size_t)rows * n, 4.f);
  bf16* w = m.random(n, 0.5f, 1.f);
  bf16* gu = m.random((size_t)rows * 2 * inter, 8.f);
  bf16* x = m.random((size_t)rows * qkv, 4.f);
  std::vector<int> slots(rows), pos(rows);
  for (int t = 0; t < rows; t++) { slots[t] = rows - 1 - t; pos[t] = 3 * t + 5; }
  std::vector<float> inv(rot / 2);
  for (int i = 0; i < rot / 2; i++) inv[i] = powf(10000.f, -2.f * i / rot);
  int* dSlots = m.upload(slots);
  int* dPos = m.upload(pos);
  float* dInv = m.upload(inv);
  size_t sizes[6] = {(size_t)rows * n, (size_t)rows * n, (size_t)rows * inter, (size_t)rows * heads * hd,
                     (size_t)rows * kvw, (size_t)rows * kvw};
  bf16* o[2][6];
  for (auto& run : o) {
    for (int i = 0; i < 6; i++) run[i] = (bf16*)m.zeros(sizes[i] * 2);
  }
  if (!a || !b || !w || !gu || !x || !dSlots || !dPos || !dInv) return -2;
  for (auto& run : o) {
    for (bf16* p : run) if (!p) return -2;
  }
  for (int v = 0; v < 2; v++) {
    setRowKernelsVectorized(v == 0);
    launchAddRmsNorm(c->stream, o[v][0], o[v][1], a, n, b, n, w, rows, n, 1e-5f);
    launchSiluMul(c->stream, o[v][2], gu, 2 * inter, rows, inter);
    launchRopeQkv(c->stream, o[v][3], x, qkv, x + heads * hd, qkv, x + heads * hd + kvw, qkv, o[v][4], o[v][5], dSlots,
                  dPos, dInv, rows, heads, kvHeads, hd, rot, true, nullptr);
  }
  // ropeQkv with the QKV bias folded in (both variants) against addBias, then ropeQkv without it
  bf16* bias = m.random(qkv, 2.f);
  bf16* xb = (bf16*)m.zeros((size_t)rows * qkv * 2);
  bf16* ob[3][3];
  for (auto& run : ob) {
    for (int i = 0; i < 3; i++) run[i] = (bf16*)m.zeros(sizes[3 + i] * 2);
  }
  if (!bias || !xb) return -2;
  for (auto& run : ob) {
    for (bf16* p : run) if (!p) return -2;
  }
  cudaMemcpyAsync(xb, x, (size_t)rows * qkv * 2, cudaMemcpyDeviceToDevice, c->stream);
  launchAddBias(c->stream, xb, qkv, bias, rows, qkv);
  launchRopeQkv(c->stream, ob[2][0], xb, qkv, xb + heads * hd, qkv, xb + heads * hd + kvw, qkv, ob[2][1], ob[2][2],
                dSlots, dPos, dInv, rows, heads, kvHeads, hd, rot, true, nullptr);
  for (int v = 0; v < 2; v++) {
    setRowKernelsVectorized(v == 0);
    launchRopeQkv(c->stream, ob[v][0], x, qkv, x + heads * hd, qkv, x + heads * hd + kvw, qkv, ob[v][1], ob[v][2],
                  dSlots, dPos, dInv, rows, heads, kvHeads, hd, rot, true, bias);
  }
  setRowKernelsVectorized(true);
  if (!ok(env, cudaStreamSynchronize(c->stream), "selfTestRowKernels kernels")) return -2;
  long long diff = 0;
  for (int i = 0; i < 6; i++) diff += differing(o[0][i], o[1][i], sizes[i]);
  for (int v = 0; v < 2; v++) {
    for (int i = 0; i < 3; i++) diff += differing(ob[v][i], ob[2][i], sizes[3 + i]);
  }
  return diff;
}

/** rowKernelsVectorized: which row kernels take their 16-byte variants at a shape (no device needed). */
JNI(jint, rowKernelsVectorized)(JNIEnv*, jclass, jint rows, jint n, jint inter, jint heads, jint kvHeads,
                                jint headDim, jint rot, jboolean interleaved) {
  return rowKernelsVectorized(rows, n, inter, heads, kvHeads, headDim, rot, interleaved);
}

/**
 * Kernel self-check on random data for the fused residual add + RMSNorm GEMVs, against the unfused kernels that the
 * steps run otherwise. kind 0: addRmsNorm → gate_up GEMV with SiLU·mul (out = inter); kind 1: addRmsNorm → QKV GEMV
 * with bias → RoPE of q and k and the KV write (out = query heads; 2 KV heads of 128, rotary dim 64, interleaved).
 * Returns the number of output elements (sums, activations, q, K and V cache) that differ bit for bit, -1 when the
 * fused kernel declines the shapes, -2 when device memory ran out.
 */
JNI(jlong, selfTestNormFused)(JNIEnv* env, jclass, jlong h, jint kind, jint rows, jint in, jint out, jlong seed) {
  Context* c = ctx(h);
  selftest::CudaCoreGemv cudaCore;  // the fused kernels are CUDA-core GEMVs
  Scratch m(seed, c->stream);
  const float eps = 1e-5f;
  bf16* a = m.random((size_t)rows * in, 4.f);
  bf16* b = m.random((size_t)rows * in, 4.f);
  bf16* nw = m.random(in, 0.5f, 1.f);
  bf16* sum1 = (bf16*)m.zeros((size_t)rows * in * 2);
  bf16* sum2 = (bf16*)m.zeros((size_t)rows * in * 2);
  bf16* xn = (bf16*)m.zeros((size_t)rows * in * 2);
  if (!a || !b || !nw || !sum1 || !sum2 || !xn) return -2;
  long long diff = 0;
  if (kind == 0) {
    int inter = out;
    bf16* w = m.random((size_t)2 * inter * in, 0.05f);
    bf16* gu = (bf16*)m.zeros((size_t)rows * 2 * inter * 2);
    bf16* y1 = (bf16*)m.zeros((size_t)rows * inter * 2);
    bf16* y2 = (bf16*)m.zeros((size_t)rows * inter * 2);
    if (!w || !gu || !y1 || !y2) return -2;
    if (!launchAddRmsNormGemvSilu(c->stream, sum1, y1, a, in, b, in, nw, eps, w, rows, in, inter)) return -1;
    launchAddRmsNorm(c->stream, sum2, xn, a, in, b, in, nw, rows, in, eps);
    if (!launchGemvSilu(c->stream, y2, xn, in, w, rows, in, inter)) {
      launchGemv(c->stream, gu, 2 * inter, false, xn, in, w, nullptr, rows, in, 2 * inter);
      launchSiluMul(c->stream, y2, gu, 2 * inter, rows, inter);
    }
    if (!ok(env, cudaStreamSynchronize(c->stream), "selfTestNormFused kernels")) return -2;
    diff = differing(y1, y2, (size_t)rows * inter);
  } else {  // kind 1: with the norm (against addRmsNorm first); kind 2: the GEMV on x = a (no norm, no sum)
    int heads = out, kvHeads = 2, headDim = 128, rot = 64, slotsTotal = 128;  // slots 3 + 13t, t < 8
    int qW = heads * headDim, kvW = kvHeads * headDim, n = qW + 2 * kvW;
    bf16* w = m.random((size_t)n * in, 0.05f);
    bf16* bias = m.random(n, 0.5f);
    bf16* qkv = (bf16*)m.zeros((size_t)rows * n * 2);
    bf16* q1 = (bf16*)m.zeros((size_t)rows * qW * 2);
    bf16* q2 = (bf16*)m.zeros((size_t)rows * qW * 2);
    bf16* kc1 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* vc1 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* kc2 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* vc2 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    std::vector<int> slots, pos;
    for (int t = 0; t < rows; t++) {
      slots.push_back(3 + 13 * t);
      pos.push_back(7 + 1021 * t);
    }
    std::vector<float> invHost(rot / 2);
    for (int i = 0; i < rot / 2; i++) invHost[i] = 1.f / powf(10000.f, 2.f * i / rot);
    int* ds = m.upload(slots);
    int* dp = m.upload(pos);
    float* di = m.upload(invHost);
    if (!w || !bias || !qkv || !q1 || !q2 || !kc1 || !vc1 || !kc2 || !vc2 || !ds || !dp || !di) return -2;
    if (kind == 1 ? !launchAddRmsNormQkvRope(c->stream, sum1, q1, a, in, b, in, nw, eps, w, bias, rows, in, kc1, vc1,
                                             ds, dp, di, heads, kvHeads, headDim, rot)
                  : !launchGemvQkvRope(c->stream, q1, a, in, w, bias, rows, in, kc1, vc1, ds, dp, di, heads, kvHeads,
                                       headDim, rot)) {
      return -1;
    }
    if (kind == 1) launchAddRmsNorm(c->stream, sum2, xn, a, in, b, in, nw, rows, in, eps);
    launchGemv(c->stream, qkv, n, false, kind == 1 ? xn : a, in, w, bias, rows, in, n);
    launchRopeQkv(c->stream, q2, qkv, n, qkv + qW, n, qkv + qW + kvW, n, kc2, vc2, ds, dp, di, rows, heads, kvHeads,
                  headDim, rot, true);
    if (!ok(env, cudaStreamSynchronize(c->stream), "selfTestNormFused kernels")) return -2;
    diff = differing(q1, q2, (size_t)rows * qW) + differing(kc1, kc2, (size_t)slotsTotal * kvW) +
           differing(vc1, vc2, (size_t)slotsTotal * kvW);
    if (kind == 2) return diff;
  }
  return diff + differing(sum1, sum2, (size_t)rows * in);
}

namespace {
/** The kernel of an attention plan in words, e.g. "attention2K<G=12, DPL=4>, 2 blocks per KV head". */
std::string attentionKernelName(const AttentionPlan& p) {
  switch (p.kernel) {
    case ATTN_FIRST:
      return "attentionK<G=" + std::to_string(p.group) + ", DPL=" + std::to_string(p.dpl) + ">";
    case ATTN_CHUNKED:
      return "attention2K<G=" + std::to_string(p.group) + ", DPL=" + std::to_string(p.dpl) + ">" +
             (p.hg > 1 ? ", " + std::to_string(p.hg) + " blocks per KV head" : "");
    case ATTN_ANY:
      return "attentionAnyK (a warp per query head)";
    default:
      return "none";
  }
}

inline float bf16ToF32(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/** A self-check's step: sequences of (context length, query tokens at its end), and how attention splits it. */
struct AttnCase {
  std::vector<std::pair<int, int>> seqs;
  int partition;  // 0: dynamic (graph steps)
  int splits;
  bool counters;  // whether the kernel may merge its splits itself
};

AttnCase attnCase(int mode, int kvHeads) {
  switch (mode) {
    case 0:  // small-batch decode: per-query-head blocks; static splits of 64 that the kernel merges
      return {{{1, 1}, {45, 1}, {300, 1}}, 64, 5, true};
    case 1: {  // batched decode (rows × KV heads >= 32): per-KV-head blocks; graph-style dynamic splits
      AttnCase c{{}, 0, 4, true};
      int n = std::max(16, 32 / kvHeads + 1);
      for (int i = 0; i < n; i++) c.seqs.push_back({1 + (i * 37) % 150, 1});
      return c;
    }
    case 2:  // chunked prefill next to a fresh prompt and a decode token; splits merged by attentionCombineK
      return {{{64, 24}, {9, 9}, {131, 1}}, 32, 5, false};
    case 3:  // one split: the kernel writes the output directly
      return {{{200, 1}, {7, 1}, {33, 1}, {100, 2}}, 256, 1, true};
    default:  // more splits (282) than the kernel merges itself (256): attentionCombineK
      return {{{9000, 1}, {40, 1}}, 32, 282, true};
  }
}

/**
 * out (rows, heads·headDim) of causal softmax attention in double precision, from the same bf16 inputs; the (token,
 * head) pairs are spread over the host's cores.
 */
void attentionReference(std::vector<double>& out, const std::vector<uint16_t>& q, int ldq,
                        const std::vector<uint16_t>& kc, const std::vector<uint16_t>& vc, const std::vector<int>& slotOf,
                        const std::vector<int>& pos, const std::vector<int>& seqStart, int heads, int kvHeads,
                        int headDim, double scale) {
  int rows = (int)pos.size(), group = heads / kvHeads;
  auto one = [&](int t, int h, std::vector<double>& w) {
    int kh = h / group, n = pos[t] + 1;
    const int* slots = slotOf.data() + seqStart[t];
    w.assign(n, 0.0);
    double mx = -1e300;
    for (int p = 0; p < n; p++) {
      const uint16_t* k = kc.data() + ((size_t)slots[p] * kvHeads + kh) * headDim;
      const uint16_t* qh = q.data() + (size_t)t * ldq + (size_t)h * headDim;
      double s = 0;
      for (int d = 0; d < headDim; d++) s += (double)bf16ToF32(qh[d]) * bf16ToF32(k[d]);
      w[p] = s * scale;
      mx = std::max(mx, w[p]);
    }
    double sum = 0;
    for (int p = 0; p < n; p++) sum += (w[p] = exp(w[p] - mx));
    double* o = out.data() + ((size_t)t * heads + h) * headDim;
    for (int d = 0; d < headDim; d++) o[d] = 0;
    for (int p = 0; p < n; p++) {
      const uint16_t* v = vc.data() + ((size_t)slots[p] * kvHeads + kh) * headDim;
      for (int d = 0; d < headDim; d++) o[d] += w[p] * bf16ToF32(v[d]);
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

/** The attention kernel that a step of `rows` tokens runs for these heads, in words ("none": no kernel). */
JNI(jstring, attentionKernelName)(JNIEnv* env, jclass, jint rows, jint heads, jint kvHeads, jint headDim) {
  return env->NewStringUTF(attentionKernelName(planAttention(rows, heads, kvHeads, headDim)).c_str());
}

/**
 * Kernel self-check of attention on random data against a double-precision CPU reference: `heads` query heads over
 * `kvHeads` KV heads of headDim, in the step shape `mode` of attnCase (0 small-batch decode, 1 batched decode with
 * dynamic splits, 2 chunked prefill, 3 one split, 4 more splits than the kernel merges), KV blocks of 16 in shuffled
 * order. An output element passes when |out − ref| <= 2^-8·|ref| + 2e-5 (bf16 rounding of the fp32 result).
 * Returns {elements outside that bound, max |out − ref|, max |out − ref| / bound, rows}, or null after an exception
 * (no kernel for the shape, a CUDA error, device memory).
 */
JNI(jdoubleArray, selfTestAttention)(JNIEnv* env, jclass, jlong h, jint heads, jint kvHeads, jint headDim, jint mode,
                                     jlong seed) {
  Context* c = ctx(h);
  Scratch m(seed, c->stream);
  AttnCase ac = attnCase(mode, kvHeads);
  const int bs = 16;
  int rows = 0, blocks = 0, seqs = (int)ac.seqs.size(), stride = 0;
  for (auto& sq : ac.seqs) {
    rows += sq.second;
    stride = std::max(stride, (sq.first + bs - 1) / bs);
  }
  blocks = seqs * stride;
  std::vector<int> perm(blocks), tables((size_t)seqs * stride), tokSeq, pos, seqStart, slotOf;
  for (int i = 0; i < blocks; i++) perm[i] = i;
  for (int i = blocks - 1; i > 0; i--) std::swap(perm[i], perm[(int)((m.next() + 0.5f) * (i + 1)) % (i + 1)]);
  for (int sq = 0; sq < seqs; sq++) {
    int ctxLen = ac.seqs[sq].first, start = (int)slotOf.size();
    for (int b = 0; b < stride; b++) tables[(size_t)sq * stride + b] = perm[sq * stride + b];
    for (int p = 0; p < ctxLen; p++) slotOf.push_back(tables[(size_t)sq * stride + p / bs] * bs + p % bs);
    for (int p = ctxLen - ac.seqs[sq].second; p < ctxLen; p++) {
      tokSeq.push_back(sq * stride);
      pos.push_back(p);
      seqStart.push_back(start);
    }
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
  bf16* dOut = (bf16*)m.zeros((size_t)rows * width * 2);
  float* dPart = (float*)m.zeros((size_t)rows * heads * ac.splits * (headDim + 2) * 4);
  int* dCounters = (int*)m.zeros((size_t)rows * heads * 4);
  if (!dq || !dk || !dv || !dTables || !dTokSeq || !dPos || !dOut || !dPart || !dCounters) {
    throwIse(env, "selfTestAttention: cudaMalloc failed");
    return nullptr;
  }
  float scale = 1.f / sqrtf((float)headDim);
  // tokSeq holds each token's table row offset in ints, so the table stride is 1 (as CudaForwardStep passes it)
  if (!launchAttention(c->stream, dOut, dPart, ac.counters ? dCounters : nullptr, dq, ldq, dk, dv, dTokSeq, dPos,
                       dTables, 1, bs, rows, heads, kvHeads, headDim, scale, ac.partition, ac.splits)) {
    throwIse(env, "selfTestAttention: no attention kernel for " + std::to_string(heads) + " query heads over " +
                  std::to_string(kvHeads) + " KV heads, headDim " + std::to_string(headDim));
    return nullptr;
  }
  if (!launched(env, "selfTestAttention kernels") || !ok(env, cudaStreamSynchronize(c->stream), "selfTestAttention")) {
    return nullptr;
  }
  std::vector<uint16_t> got((size_t)rows * width);
  std::vector<int> counters((size_t)rows * heads);
  cudaMemcpy(got.data(), dOut, got.size() * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(counters.data(), dCounters, counters.size() * 4, cudaMemcpyDeviceToHost);
  std::vector<double> ref((size_t)rows * width);
  attentionReference(ref, hq, ldq, hk, hv, slotOf, pos, seqStart, heads, kvHeads, headDim, scale);
  double bad = 0, maxDiff = 0, worst = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    double d = fabs((double)bf16ToF32(got[i]) - ref[i]), bound = fabs(ref[i]) / 256 + 2e-5;
    if (!(d <= bound)) bad++;
    if (d > maxDiff || d != d) maxDiff = d;
    worst = std::max(worst, d / bound);
  }
  for (int v : counters) bad += v != 0;  // the kernel leaves its split counters at 0 for the next step
  double res[4] = {bad, maxDiff, worst, (double)rows};
  jdoubleArray out = env->NewDoubleArray(4);
  env->SetDoubleArrayRegion(out, 0, 4, res);
  return out;
}

namespace {
/** A prefill self-check step: sequences of (context length, query tokens at its end), KV block size, and minRows. */
struct PrefillCase {
  std::vector<std::pair<int, int>> seqs;
  int bs;
  int minRows;  // sequences with at least this many query tokens take the prefill kernel
};

constexpr int PREFILL_CASES = 11;

PrefillCase prefillCase(int c) {
  static const int lens[] = {1, 17, 64, 100, 1000, 1023, 2048};  // fresh prompts, all rows on the prefill kernel
  if (c < 7) return {{{lens[c], lens[c]}}, 16, 1};
  switch (c) {
    case 7:  // a 333-token chunk after a cached 1,167-token prefix (chunked prefill, prefix cache)
      return {{{1500, 333}}, 16, 16};
    case 8:  // several prompts and chunks in one step, blocks of 8
      return {{{100, 100}, {37, 37}, {700, 250}, {16, 16}}, 8, 16};
    case 9:  // prefill rows between decode rows and short chunks (those stay on the decode kernels), blocks of 32
      return {{{300, 1}, {200, 200}, {45, 1}, {1000, 77}, {1, 1}, {33, 5}, {129, 129}}, 32, 16};
    default:  // a 2,047-token prompt with blocks of 1 token (every key row from its own table entry)
      return {{{2047, 2047}}, 1, 16};
  }
}
}  // namespace

/** Number of prefill self-check cases (selfTestPrefillAttention's `which`). */
JNI(jint, prefillCases)(JNIEnv*, jclass) { return PREFILL_CASES; }

/** The prefill kernel's shape for these heads, in words, or "none" when it does not serve them. */
JNI(jstring, prefillKernelName)(JNIEnv* env, jclass, jint heads, jint kvHeads, jint headDim) {
  return env->NewStringUTF(prefillAttentionSupported(heads, kvHeads, headDim)
                               ? prefillAttentionKernelName(heads, kvHeads, headDim).c_str() : "none");
}

/**
 * Self-check of the tensor-core prefill attention on random data (q in [-3, 3), K in [-1, 1), V in [-0.5, 0.5)):
 * step `which` of prefillCase run by launchAttentionMixed (the segments of at least minRows query tokens on the
 * prefill kernel, every other row on the decode kernels) against launchAttention (the decode kernels on every row,
 * which the attention self-check verifies against the CPU reference), and against the double-precision CPU
 * reference itself when that costs at most 2e9 multiply-adds. Bound per element: 2^-9·max|v| (P is rounded to bf16
 * before P·V: each weight moves by at most 2^-9 of itself, so the weighted mean of V by at most 2^-9·max|v|) +
 * 2^-8·|other| (the two outputs' bf16 roundings) + 2e-5 (fp32 sums in other orders). The decode rows of a mixed step
 * must equal the all-rows launch bit for bit (same kernels, launched per run of rows). Returns {elements outside
 * the bound (either comparison) + differing decode elements, max |new − old|, max |new − old| / bound, rows,
 * max |new − ref| (-1: no reference), rows on the prefill kernel}, or null after an exception.
 */
JNI(jdoubleArray, selfTestPrefillAttention)(JNIEnv* env, jclass, jlong h, jint heads, jint kvHeads, jint headDim,
                                            jint which, jlong seed) {
  Context* c = ctx(h);
  Scratch m(seed, c->stream);
  PrefillCase pc = prefillCase(which);
  int bs = pc.bs, rows = 0, seqs = (int)pc.seqs.size(), stride = 0, maxVisible = 1;
  for (auto& sq : pc.seqs) {
    rows += sq.second;
    stride = std::max(stride, (sq.first + bs - 1) / bs);
    maxVisible = std::max(maxVisible, sq.first);
  }
  int blocks = seqs * stride;
  std::vector<int> perm(blocks), tables((size_t)seqs * stride), tokSeq, pos, seqStart, slotOf, segs;
  std::vector<char> onPrefill;
  for (int i = 0; i < blocks; i++) perm[i] = i;
  for (int i = blocks - 1; i > 0; i--) std::swap(perm[i], perm[(int)((m.next() + 0.5f) * (i + 1)) % (i + 1)]);
  for (int sq = 0; sq < seqs; sq++) {
    int ctxLen = pc.seqs[sq].first, n = pc.seqs[sq].second, start = (int)slotOf.size();
    for (int b = 0; b < stride; b++) tables[(size_t)sq * stride + b] = perm[sq * stride + b];
    for (int p = 0; p < ctxLen; p++) slotOf.push_back(tables[(size_t)sq * stride + p / bs] * bs + p % bs);
    if (n >= pc.minRows) {
      segs.push_back((int)pos.size());
      segs.push_back(n);
    }
    for (int p = ctxLen - n; p < ctxLen; p++) {
      tokSeq.push_back(sq * stride);
      pos.push_back(p);
      seqStart.push_back(start);
      onPrefill.push_back(n >= pc.minRows);
    }
  }
  int width = heads * headDim, ldq = width + 2 * kvHeads * headDim;
  size_t kvElems = (size_t)blocks * bs * kvHeads * headDim;
  std::vector<uint16_t> hq((size_t)rows * ldq), hk(kvElems), hv(kvElems);
  for (auto& x : hq) x = f32ToBf16(m.next() * 6.f);
  for (auto& x : hk) x = f32ToBf16(m.next() * 2.f);
  for (auto& x : hv) x = f32ToBf16(m.next());
  int partition = 1024, splits = (maxVisible + partition - 1) / partition;
  bf16* dq = (bf16*)m.upload(hq);
  bf16* dk = (bf16*)m.upload(hk);
  bf16* dv = (bf16*)m.upload(hv);
  int* dTables = m.upload(tables);
  int* dTokSeq = m.upload(tokSeq);
  int* dPos = m.upload(pos);
  int* dSegs = segs.empty() ? nullptr : m.upload(segs);
  bf16* dOld = (bf16*)m.zeros((size_t)rows * width * 2);
  bf16* dNew = (bf16*)m.zeros((size_t)rows * width * 2);
  float* dPart = (float*)m.zeros((size_t)rows * heads * splits * (headDim + 2) * 4);
  if (!dq || !dk || !dv || !dTables || !dTokSeq || !dPos || (!segs.empty() && !dSegs) || !dOld || !dNew || !dPart) {
    throwIse(env, "selfTestPrefillAttention: cudaMalloc failed");
    return nullptr;
  }
  float scale = 1.f / sqrtf((float)headDim);
  bool okOld = launchAttention(c->stream, dOld, dPart, nullptr, dq, ldq, dk, dv, dTokSeq, dPos, dTables, 1, bs, rows,
                               heads, kvHeads, headDim, scale, partition, splits);
  bool okNew = okOld && launchAttentionMixed(c->stream, dNew, dPart, nullptr, dq, ldq, dk, dv, dTokSeq, dPos, dTables,
                                             1, bs, rows, heads, kvHeads, headDim, scale, partition, splits,
                                             segs.data(), dSegs, (int)segs.size() / 2);
  if (!okNew) {
    throwIse(env, "selfTestPrefillAttention: no attention kernel for " + std::to_string(heads) + " query heads over " +
                  std::to_string(kvHeads) + " KV heads, headDim " + std::to_string(headDim));
    return nullptr;
  }
  if (!launched(env, "selfTestPrefillAttention kernels") ||
      !ok(env, cudaStreamSynchronize(c->stream), "selfTestPrefillAttention")) {
    return nullptr;
  }
  std::vector<uint16_t> got((size_t)rows * width), old((size_t)rows * width);
  cudaMemcpy(got.data(), dNew, got.size() * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(old.data(), dOld, old.size() * 2, cudaMemcpyDeviceToHost);
  double macs = 0;
  for (int p : pos) macs += 2.0 * (p + 1) * width;
  std::vector<double> ref;
  if (macs <= 2e9) {
    ref.resize((size_t)rows * width);
    attentionReference(ref, hq, ldq, hk, hv, slotOf, pos, seqStart, heads, kvHeads, headDim, scale);
  }
  const double vTerm = 0.5 / 512;  // 2^-9 · max|v|
  double bad = 0, maxDiff = 0, worst = 0, maxRef = ref.empty() ? -1 : 0;
  for (size_t i = 0; i < got.size(); i++) {
    double g = bf16ToF32(got[i]), o = bf16ToF32(old[i]);
    if (!onPrefill[i / width]) {  // a decode row: the same kernels as the all-rows launch
      bad += got[i] != old[i];
      continue;
    }
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
  double prefillRows = 0;
  for (size_t i = 1; i < segs.size(); i += 2) prefillRows += segs[i];
  double res[6] = {bad, maxDiff, worst, (double)rows, maxRef, prefillRows};
  jdoubleArray out = env->NewDoubleArray(6);
  env->SetDoubleArrayRegion(out, 0, 6, res);
  return out;
}

/**
 * TFLOP/s of the backend's cuBLAS GEMM (bf16 in and out, fp32 compute, the call of CudaNative.linear) for
 * y (rows, out) = x (rows, in) · Wᵀ on random data: `reps` GEMMs timed by events after two warm-ups. -1 after an
 * exception (device memory, a cuBLAS error).
 */
JNI(jdouble, gemmRate)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint out, jint reps) {
  Context* c = ctx(h);
  Scratch m(7, c->stream);
  bf16* w = m.random((size_t)out * in, 0.05f);  // random, not zeros: a GEMM of zeros draws less power
  bf16* x = m.random((size_t)rows * in, 1.f);
  bf16* y = (bf16*)m.zeros((size_t)rows * out * 2);
  if (!w || !x || !y) {
    throwIse(env, "gemmRate: cudaMalloc failed");
    return -1;
  }
  float alpha = 1.f, beta = 0.f;
  auto gemm = [&]() {
    return c->cublas.gemmEx(c->handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &alpha, w, R_16BF, in, x, R_16BF, in,
                            &beta, y, R_16BF, out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  };
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  int st = gemm() | gemm();
  cudaEventRecord(e0, c->stream);
  for (int i = 0; i < reps; i++) st |= gemm();
  cudaEventRecord(e1, c->stream);
  cudaError_t e = cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (st != 0) {
    throwIse(env, "gemmRate: cublasGemmEx failed (m=" + std::to_string(out) + " n=" + std::to_string(rows) + " k=" +
                  std::to_string(in) + ")");
    return -1;
  }
  if (!ok(env, e, "gemmRate")) return -1;
  return 2.0 * rows * in * out * reps / (ms * 1e-3) / 1e12;
}

// The small-batch GEMVs (rows <= FUSE_GEMV_MAX_ROWS) for block-scaled FP8 weights: plain (+ bias, bf16 or fp32 out),
// gate_up with SiLU·mul, QKV with bias, RoPE and the KV write. The same in-split structure, software pipelining and
// PDL as the bf16 gemv2K / gemvSiluK / gemvQkvK (gemv.cu, gemv_fused.cu), which stay as they are; a 16-byte load
// here carries 16 weights, dequantized in registers and scaled once per chunk.
#include "gemv.cuh"
#include "fp8.cuh"
#include "kv_cache.cuh"

namespace {

/**
 * gemvAccumulate for an FP8 weight row wr (nvec 16-byte chunks) with its scale row sr (chunk v's scale at
 * sr[v >> cshift]): this warp's share (every KS-th chunk from ks·32 + lane), reduced over the warp; U chunks in
 * flight per lane, the first U loaded before pdlWait().
 */
template <int T, int KS>
__device__ __forceinline__ void gemvAccFp8(float (&acc)[T], const uint4* wr, const float* sr, int cshift, int nvec,
                                           const bf16* x, int ldx, int ks, int lane) {
  constexpr int U = 4;
  constexpr int STEP = 32 * KS;
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = 0.f;
  int v = ks * 32 + lane;
  uint4 wv[U];
  bool full = v + (U - 1) * STEP < nvec;
  if (full) {
#pragma unroll
    for (int u = 0; u < U; u++) wv[u] = loadWeight(wr + v + u * STEP);
  }
  pdlWait();
  while (full) {
    uint4 cur[U];
#pragma unroll
    for (int u = 0; u < U; u++) cur[u] = wv[u];
    int nv = v + U * STEP;
    full = nv + (U - 1) * STEP < nvec;
    if (full) {
#pragma unroll
      for (int u = 0; u < U; u++) wv[u] = loadWeight(wr + nv + u * STEP);
    }
#pragma unroll
    for (int u = 0; u < U; u++) fp8Chunk<T>(acc, cur[u], __ldg(sr + ((v + u * STEP) >> cshift)), x, ldx, v + u * STEP);
    v = nv;
  }
  for (; v < nvec; v += STEP) fp8Chunk<T>(acc, loadWeight(wr + v), __ldg(sr + (v >> cshift)), x, ldx, v);
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = warpSum(acc[t]);
}

/** Weight row `row` of w (in columns): its chunks and its scale row. */
__device__ __forceinline__ const uint4* fp8Row(const Fp8Mat& w, int row, int in, const float** sr) {
  *sr = w.s + (size_t)(row >> w.rowShift) * w.sld;
  return (const uint4*)(w.q + (size_t)row * in);
}

/** gemv2K for an FP8 weight. */
template <int T, bool F32, int KS>
__global__ void __launch_bounds__(256) gemvFp8K(void* y, int ldy, const bf16* x, int ldx, Fp8Mat w,
                                                const bf16* bias, int in, int out) {
  pdlTrigger();
  constexpr int RPB = 8 / KS;
  __shared__ float part[KS > 1 ? 8 : 1][T];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int row = blockIdx.x * RPB + rib;
  bool live = row < out;
  const float* sr;
  const uint4* wr = fp8Row(w, live ? row : 0, in, &sr);
  float acc[T];
  gemvAccFp8<T, KS>(acc, wr, sr, w.colShift - 4, live ? in >> 4 : 0, x, ldx, ks, lane);
  if (KS > 1) {
    if (lane == 0) {
#pragma unroll
      for (int t = 0; t < T; t++) part[warp][t] = acc[t];
    }
    __syncthreads();
    if (ks != 0) return;
#pragma unroll
    for (int t = 0; t < T; t++) {
      float s = 0.f;
#pragma unroll
      for (int k = 0; k < KS; k++) s += part[rib * KS + k][t];
      acc[t] = s;
    }
  }
  if (!live) return;
#pragma unroll
  for (int t = 0; t < T; t++) {
    if (lane == t % 32) {
      float s = acc[t];
      if (bias != nullptr) s += bf(bias[row]);
      if (F32) ((float*)y)[(size_t)t * ldy + row] = s;
      else ((bf16*)y)[(size_t)t * ldy + row] = tobf(s);
    }
  }
}

/** gemvQkvK (without the norm prologue) for an FP8 weight: summed as gemvFp8K sums, then RoPE and the KV write. */
template <int T, int KS, typename KV>
__global__ void __launch_bounds__(256) gemvQkvFp8K(const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int in,
                                                   int out, QkvOutT<KV> o) {
  pdlTrigger();
  static_assert(KS <= 4, "pairs of features must lie in one block");
  constexpr int RPB = 8 / KS;
  __shared__ float part[8][T];
  __shared__ float val[RPB][T];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int row = blockIdx.x * RPB + rib;
  bool live = row < out;
  const float* sr;
  const uint4* wr = fp8Row(w, live ? row : 0, in, &sr);
  float acc[T];
  gemvAccFp8<T, KS>(acc, wr, sr, w.colShift - 4, live ? in >> 4 : 0, x, ldx, ks, lane);
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < T; t++) part[warp][t] = acc[t];
  }
  __syncthreads();
  int e = threadIdx.x;
  int r = e / T, t = e - r * T;
  int f = blockIdx.x * RPB + r;
  bool mine = e < RPB * T && f < out;
  if (mine) {
    float s;
    if constexpr (KS == 1) {
      s = part[r][t];
    } else {
      s = 0.f;
#pragma unroll
      for (int k = 0; k < KS; k++) s += part[r * KS + k][t];
    }
    if (bias != nullptr) s += bf(bias[f]);
    val[r][t] = bf(tobf(s));
  }
  __syncthreads();
  if (!mine) return;
  float xv = val[r][t];
  int kvEnd = o.qWidth + o.kvWidth;
  if (f < kvEnd) {
    int c = f < o.qWidth ? f : f - o.qWidth;
    int d = c % o.headDim;
    if (d < o.rot) xv = ropePair(xv, val[r ^ 1][t], (d & 1) == 0, o.pos[t], o.inv[d >> 1]);
    if (f < o.qWidth) o.q[(size_t)t * o.qWidth + f] = tobf(xv);
    else o.kc[(size_t)o.slots[t] * o.kvWidth + c] = toKv<KV>(xv);
  } else {
    o.vc[(size_t)o.slots[t] * o.kvWidth + (f - kvEnd)] = toKv<KV>(xv);
  }
}

/** gemvSiluK (without the norm prologue) for an FP8 [gate | up] weight. */
template <int T, int KS>
__global__ void __launch_bounds__(256) gemvSiluFp8K(bf16* y, const bf16* x, int ldx, Fp8Mat w, int in, int inter) {
  pdlTrigger();
  constexpr int RPB = 8 / KS;
  constexpr int PAIRS = RPB / 2;
  __shared__ float part[8][T];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int f = blockIdx.x * PAIRS + rib % PAIRS;
  bool live = f < inter;
  int row = rib >= PAIRS ? inter + f : f;
  const float* sr;
  const uint4* wr = fp8Row(w, live ? row : 0, in, &sr);
  float acc[T];
  gemvAccFp8<T, KS>(acc, wr, sr, w.colShift - 4, live ? in >> 4 : 0, x, ldx, ks, lane);
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < T; t++) part[warp][t] = acc[t];
  }
  __syncthreads();
  int p = warp;
  int fp = blockIdx.x * PAIRS + p;
  if (p >= PAIRS || fp >= inter) return;
#pragma unroll
  for (int t = 0; t < T; t++) {
    if (lane == t % 32) {
      float g = 0.f, u = 0.f;
#pragma unroll
      for (int k = 0; k < KS; k++) {
        g += part[p * KS + k][t];
        u += part[(p + PAIRS) * KS + k][t];
      }
      float gb = bf(tobf(g)), ub = bf(tobf(u));
      y[(size_t)t * inter + fp] = tobf(gb / (1.f + expf(-gb)) * ub);
    }
  }
}

}  // namespace

/** Whether the FP8 GEMVs take x (ldx) and w for `in` inputs: 16-weight chunks, aligned, chunk-aligned blocks. */
static bool fp8Applies(const bf16* x, int ldx, const Fp8Mat& w, int in) {
  return (in & 15) == 0 && (ldx & 7) == 0 && (((uintptr_t)x | (uintptr_t)w.q) & 15) == 0 && w.colShift >= 4 &&
         w.rowShift >= 0;
}

template <int T, int KS>
static void gemvFp8(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const Fp8Mat& w,
                    const bf16* bias, int in, int out) {
  int blocks = (out + 8 / KS - 1) / (8 / KS);
  if (f32Out) launchK(true, gemvFp8K<T, true, KS>, blocks, 256, s, y, ldy, x, ldx, w, bias, in, out);
  else launchK(true, gemvFp8K<T, false, KS>, blocks, 256, s, y, ldy, x, ldx, w, bias, in, out);
}

template <int T>
static void gemvFp8Split(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const Fp8Mat& w,
                         const bf16* bias, int in, int out) {
  switch (inSplit(out)) {
    case 1: gemvFp8<T, 1>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); break;
    case 2: gemvFp8<T, 2>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); break;
    case 4: gemvFp8<T, 4>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); break;
    default: gemvFp8<T, 8>(s, y, ldy, f32Out, x, ldx, w, bias, in, out);
  }
}

bool launchGemvFp8(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, Fp8Mat w,
                   const bf16* bias, int rows, int in, int out) {
  if (!fp8Applies(x, ldx, w, in)) return false;
  if (fp8MmaApplies(w, rows)) {
    launchGemvFp8Mma(s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out);
    return true;
  }
  switch (rows) {
    case 1: gemvFp8Split<1>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 2: gemvFp8Split<2>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 3: gemvFp8Split<3>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 4: gemvFp8Split<4>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 5: gemvFp8Split<5>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 6: gemvFp8Split<6>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 7: gemvFp8Split<7>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    case 8: gemvFp8Split<8>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;
    default: return false;
  }
}

template <int T>
static bool gemvSiluFp8(cudaStream_t s, bf16* y, const bf16* x, int ldx, const Fp8Mat& w, int in, int inter) {
  switch (inSplit(2L * inter)) {  // the plain GEMV's split of the 2·inter features, so gate and up sum alike
    case 1: launchK(true, gemvSiluFp8K<T, 1>, (inter + 3) / 4, 256, s, y, x, ldx, w, in, inter); return true;
    case 2: launchK(true, gemvSiluFp8K<T, 2>, (inter + 1) / 2, 256, s, y, x, ldx, w, in, inter); return true;
    case 4: launchK(true, gemvSiluFp8K<T, 4>, inter, 256, s, y, x, ldx, w, in, inter); return true;
    default: return false;  // a split of 8 leaves one feature per block: no pair to finish
  }
}

bool launchGemvSiluFp8(cudaStream_t s, bf16* y, const bf16* x, int ldx, Fp8Mat w, int rows, int in, int inter) {
  if (g_kernels.gemvVariant == 0 || !fp8Applies(x, ldx, w, in)) return false;
  if (fp8MmaApplies(w, rows)) return launchGemvSiluFp8Mma(s, y, x, ldx, w, rows, in, inter);
  switch (rows) {
    case 1: return gemvSiluFp8<1>(s, y, x, ldx, w, in, inter);
    case 2: return gemvSiluFp8<2>(s, y, x, ldx, w, in, inter);
    case 3: return gemvSiluFp8<3>(s, y, x, ldx, w, in, inter);
    case 4: return gemvSiluFp8<4>(s, y, x, ldx, w, in, inter);
    case 5: return gemvSiluFp8<5>(s, y, x, ldx, w, in, inter);
    case 6: return gemvSiluFp8<6>(s, y, x, ldx, w, in, inter);
    case 7: return gemvSiluFp8<7>(s, y, x, ldx, w, in, inter);
    case 8: return gemvSiluFp8<8>(s, y, x, ldx, w, in, inter);
    default: return false;
  }
}

template <int T, typename KV>
static bool gemvQkvFp8(cudaStream_t s, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias, int in, int out,
                       const QkvOutT<KV>& o) {
  // the plain GEMV's split, at most 4 (8 would split a (2i, 2i+1) pair over two blocks), as gemv_fused.cu's
  switch (inSplit(out)) {
    case 1: launchK(true, gemvQkvFp8K<T, 1, KV>, (out + 7) / 8, 256, s, x, ldx, w, bias, in, out, o); return true;
    case 2: launchK(true, gemvQkvFp8K<T, 2, KV>, (out + 3) / 4, 256, s, x, ldx, w, bias, in, out, o); return true;
    default: launchK(true, gemvQkvFp8K<T, 4, KV>, (out + 1) / 2, 256, s, x, ldx, w, bias, in, out, o); return true;
  }
}

template <typename KV>
static bool gemvQkvRopeFp8Of(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, Fp8Mat w, const bf16* bias,
                             int rows, int in, KV* kc, KV* vc, const int* slots, const int* pos, const float* inv,
                             int heads, int kvHeads, int headDim, int rot) {
  if (rows < 1 || rows > FUSE_GEMV_MAX_ROWS || g_kernels.gemvVariant == 0 || !fp8Applies(x, ldx, w, in) ||
      (headDim & 1) != 0 || (rot & 1) != 0 || rot > headDim) {
    return false;
  }
  QkvOutT<KV> o{qOut, kc, vc, slots, pos, inv, heads * headDim, kvHeads * headDim, headDim, rot};
  int out = (heads + 2 * kvHeads) * headDim;
  if (fp8MmaApplies(w, rows)) {
    launchGemvQkvFp8Mma(s, x, ldx, w, bias, rows, in, out, o);
    return true;
  }
  switch (rows) {
    case 1: return gemvQkvFp8<1, KV>(s, x, ldx, w, bias, in, out, o);
    case 2: return gemvQkvFp8<2, KV>(s, x, ldx, w, bias, in, out, o);
    case 3: return gemvQkvFp8<3, KV>(s, x, ldx, w, bias, in, out, o);
    case 4: return gemvQkvFp8<4, KV>(s, x, ldx, w, bias, in, out, o);
    case 5: return gemvQkvFp8<5, KV>(s, x, ldx, w, bias, in, out, o);
    case 6: return gemvQkvFp8<6, KV>(s, x, ldx, w, bias, in, out, o);
    case 7: return gemvQkvFp8<7, KV>(s, x, ldx, w, bias, in, out, o);
    default: return gemvQkvFp8<8, KV>(s, x, ldx, w, bias, in, out, o);
  }
}

bool launchGemvQkvRopeFp8(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows,
                          int in, bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int heads,
                          int kvHeads, int headDim, int rot) {
  return gemvQkvRopeFp8Of(s, qOut, x, ldx, w, bias, rows, in, kc, vc, slots, pos, inv, heads, kvHeads, headDim, rot);
}

bool launchGemvQkvRopeFp8(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows,
                          int in, kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int heads,
                          int kvHeads, int headDim, int rot) {
  return gemvQkvRopeFp8Of(s, qOut, x, ldx, w, bias, rows, in, kc, vc, slots, pos, inv, heads, kvHeads, headDim, rot);
}

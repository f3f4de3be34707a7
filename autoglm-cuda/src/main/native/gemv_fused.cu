// GEMVs that absorb their neighbours: gate_up with SiLU·mul, QKV with bias, RoPE and the KV-cache write, and
// either with the residual add + RMSNorm before it (rows <= FUSE_NORM_MAX_ROWS).
#include "gemv.cuh"
#include "kv_cache.cuh"

namespace {

/**
 * The attention block's input side in one kernel: x = rmsNorm(a + b) (normPrologue, when NORM; else x itself),
 * qkv = x · Wᵀ + bias as gemv2K computes it (rounded to bf16), then RoPE of q and k and the KV-cache write of k and
 * v, as ropeQkvK computes them. KS <= 4, so that each block holds whole (2i, 2i+1) pairs.
 */
template <int T, int KS, bool NORM, typename KV>
__global__ void __launch_bounds__(256) gemvQkvK(const bf16* x, int ldx, const bf16* w, const bf16* bias, int in,
                                                int out, NormIn nrm, QkvOutT<KV> o) {
  pdlTrigger();
  static_assert(KS <= 4, "pairs of features must lie in one block");
  constexpr int RPB = 8 / KS;
  __shared__ float part[8][T];
  __shared__ float val[RPB][T];
  extern __shared__ __align__(16) unsigned char dynSmem[];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int row = blockIdx.x * RPB + rib;
  bool live = row < out;
  const uint4* wr = (const uint4*)(w + (size_t)(live ? row : 0) * in);
  float acc[T];
  if constexpr (NORM) {
    bf16* xs = (bf16*)dynSmem;
    gemvAccumulate<T, KS, true>(acc, wr, live ? in >> 3 : 0, xs, in, ks, lane,
                                [&]() { normPrologue<T>(xs, nrm, in); });
  } else {
    gemvAccumulate<T, KS>(acc, wr, live ? in >> 3 : 0, x, ldx, ks, lane);
  }
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
    float s;  // summed as gemv2K sums (with one split it takes the warp's sum as it is)
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
    int c = f < o.qWidth ? f : f - o.qWidth;  // column within q or k
    int d = c % o.headDim;
    if (d < o.rot) xv = ropePair(xv, val[r ^ 1][t], (d & 1) == 0, o.pos[t], o.inv[d >> 1]);
    if (f < o.qWidth) o.q[(size_t)t * o.qWidth + f] = tobf(xv);
    else o.kc[(size_t)o.slots[t] * o.kvWidth + c] = toKv<KV>(xv);
  } else {
    o.vc[(size_t)o.slots[t] * o.kvWidth + (f - kvEnd)] = toKv<KV>(xv);
  }
}

/**
 * The gate_up GEMV with SiLU·mul in its epilogue: w is [gate | up] (2·inter, in); a block computes PAIRS gate rows
 * and the matching up rows (KS warps each), and writes out (T, inter) = silu(gate)·up. Gate and up are rounded to
 * bf16 before the activation, exactly as gemv2K followed by siluMulK computes them.
 */
template <int T, int KS, bool NORM>
__global__ void __launch_bounds__(256) gemvSiluK(bf16* y, const bf16* x, int ldx, const bf16* w, int in, int inter,
                                                 NormIn nrm) {
  pdlTrigger();
  constexpr int RPB = 8 / KS;
  constexpr int PAIRS = RPB / 2;
  __shared__ float part[8][T];
  extern __shared__ __align__(16) unsigned char dynSmem[];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int f = blockIdx.x * PAIRS + rib % PAIRS;
  bool live = f < inter;
  int row = rib >= PAIRS ? inter + f : f;
  const uint4* wr = (const uint4*)(w + (size_t)(live ? row : 0) * in);
  float acc[T];
  if constexpr (NORM) {
    bf16* xs = (bf16*)dynSmem;
    gemvAccumulate<T, KS, true>(acc, wr, live ? in >> 3 : 0, xs, in, ks, lane,
                                [&]() { normPrologue<T>(xs, nrm, in); });
  } else {
    gemvAccumulate<T, KS>(acc, wr, live ? in >> 3 : 0, x, ldx, ks, lane);
  }
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < T; t++) part[warp][t] = acc[t];
  }
  __syncthreads();
  int p = warp;  // warp p < PAIRS finishes pair p: gate rib p, up rib p + PAIRS (its own rib differs when KS > 1)
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

template <int T>
static bool gemvSilu(cudaStream_t s, bf16* y, const bf16* x, int ldx, const bf16* w, int in, int inter) {
  // the split of the (2·inter)-feature GEMV, so that gate and up sum in the same order as gemv2K's
  switch (inSplit(2L * inter)) {
    case 1: launchK(true, gemvSiluK<T, 1, false>, (inter + 3) / 4, 256, s, y, x, ldx, w, in, inter, NormIn{});
      return true;
    case 2: launchK(true, gemvSiluK<T, 2, false>, (inter + 1) / 2, 256, s, y, x, ldx, w, in, inter, NormIn{});
      return true;
    case 4: launchK(true, gemvSiluK<T, 4, false>, inter, 256, s, y, x, ldx, w, in, inter, NormIn{}); return true;
    default: return false;  // a split of 8 leaves one feature per block: no pair to finish
  }
}

#define GEMV_SILU_CASE(T) \
  case T: return gemvSilu<T>(s, y, x, ldx, w, in, inter);

bool launchGemvSilu(cudaStream_t s, bf16* y, const bf16* x, int ldx, const bf16* w, int rows, int in, int inter) {
  if (gemvTcTakes(rows)) return launchGemvTcSilu(s, y, x, ldx, w, rows, in, inter);
  if (g_kernels.gemvVariant == 0 || (in & 7) != 0 || (ldx & 7) != 0 || (((uintptr_t)x | (uintptr_t)w) & 15) != 0) return false;
  switch (rows) {
    GEMV_SILU_CASE(1) GEMV_SILU_CASE(2) GEMV_SILU_CASE(3) GEMV_SILU_CASE(4) GEMV_SILU_CASE(5) GEMV_SILU_CASE(6)
    GEMV_SILU_CASE(7) GEMV_SILU_CASE(8)
    default: return false;
  }
}

// ---- residual add + RMSNorm fused into the GEMV that reads the normed rows ----

/** Whether the fused-norm GEMV takes (rows, in); fills nrm.vb with addRmsNormK's block size for these rows. */
static bool normApplies(NormIn& nrm, int rows, int in, const bf16* w) {
  if (rows < 1 || rows > FUSE_NORM_MAX_ROWS || (in & 7) != 0 || (size_t)rows * in * 2 > FUSE_NORM_MAX_SMEM_BYTES) return false;
  if (g_kernels.gemvVariant == 0 || ((uintptr_t)w & 15) != 0) return false;
  nrm.vb = rowThreads(in, rows);
  return nrm.vb <= NORM_M * 256 && in <= NORM_R * nrm.vb;
}

/** The in-split of the fused-norm GEMVs: the unfused GEMV's, at most 4 (whole feature pairs per block). */
static int fusedSplit(long out) {
  int ks = inSplit(out);
  return ks > 4 ? 4 : ks;
}

template <int T>
static void gemvNormSilu(cudaStream_t s, bf16* y, const bf16* w, int in, int inter, const NormIn& nrm) {
  size_t smem = (size_t)T * in * 2;
  switch (fusedSplit(2L * inter)) {
    case 1: launchKs(true, gemvSiluK<T, 1, true>, (inter + 3) / 4, 256, smem, s, y, nullptr, 0, w, in, inter, nrm);
      break;
    case 2: launchKs(true, gemvSiluK<T, 2, true>, (inter + 1) / 2, 256, smem, s, y, nullptr, 0, w, in, inter, nrm);
      break;
    default: launchKs(true, gemvSiluK<T, 4, true>, inter, 256, smem, s, y, nullptr, 0, w, in, inter, nrm);
  }
}

bool launchAddRmsNormGemvSilu(cudaStream_t s, bf16* sum, bf16* y, const bf16* a, int lda, const bf16* b, int ldb,
                              const bf16* normW, float eps, const bf16* w, int rows, int in, int inter) {
  NormIn nrm{a, lda, b, ldb, normW, sum, 0, eps};
  if (!normApplies(nrm, rows, in, w)) return false;
  switch (rows) {
    case 1: gemvNormSilu<1>(s, y, w, in, inter, nrm); break;
    case 2: gemvNormSilu<2>(s, y, w, in, inter, nrm); break;
    case 3: gemvNormSilu<3>(s, y, w, in, inter, nrm); break;
    default: gemvNormSilu<4>(s, y, w, in, inter, nrm);
  }
  return true;
}

/** The QKV GEMV with the RoPE/KV epilogue; NORM: x is rmsNorm(nrm.a + nrm.b) (x and ldx unused). */
template <int T, int KS, bool NORM, typename KV>
static void gemvQkv(cudaStream_t s, const bf16* x, int ldx, const bf16* w, const bf16* bias, int in, int out,
                    const NormIn& nrm, const QkvOutT<KV>& o) {
  int blocks = (out + 8 / KS - 1) / (8 / KS);
  launchKs(true, gemvQkvK<T, KS, NORM, KV>, blocks, 256, NORM ? (size_t)T * in * 2 : 0, s, x, ldx, w, bias, in, out,
           nrm, o);
}

template <int T, bool NORM, typename KV>
static void gemvQkvSplit(cudaStream_t s, const bf16* x, int ldx, const bf16* w, const bf16* bias, int in, int out,
                         const NormIn& nrm, const QkvOutT<KV>& o) {
  switch (fusedSplit(out)) {
    case 1: gemvQkv<T, 1, NORM, KV>(s, x, ldx, w, bias, in, out, nrm, o); break;
    case 2: gemvQkv<T, 2, NORM, KV>(s, x, ldx, w, bias, in, out, nrm, o); break;
    default: gemvQkv<T, 4, NORM, KV>(s, x, ldx, w, bias, in, out, nrm, o);
  }
}

template <typename KV>
static bool gemvQkvRopeOf(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, const bf16* w, const bf16* bias,
                          int rows, int in, KV* kc, KV* vc, const int* slots, const int* pos, const float* inv,
                          int heads, int kvHeads, int headDim, int rot) {
  if (rows < 1 || rows > FUSE_GEMV_MAX_ROWS || g_kernels.gemvVariant == 0 || (in & 7) != 0 || (ldx & 7) != 0 ||
      (((uintptr_t)x | (uintptr_t)w) & 15) != 0 || (headDim & 1) != 0 || (rot & 1) != 0 || rot > headDim) {
    return false;
  }
  QkvOutT<KV> o{qOut, kc, vc, slots, pos, inv, heads * headDim, kvHeads * headDim, headDim, rot};
  int out = (heads + 2 * kvHeads) * headDim;
  NormIn none{};
  switch (rows) {
    case 1: gemvQkvSplit<1, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    case 2: gemvQkvSplit<2, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    case 3: gemvQkvSplit<3, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    case 4: gemvQkvSplit<4, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    case 5: gemvQkvSplit<5, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    case 6: gemvQkvSplit<6, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    case 7: gemvQkvSplit<7, false, KV>(s, x, ldx, w, bias, in, out, none, o); break;
    default: gemvQkvSplit<8, false, KV>(s, x, ldx, w, bias, in, out, none, o);
  }
  return true;
}

template <typename KV>
static bool addRmsNormQkvRopeOf(cudaStream_t s, bf16* sum, bf16* qOut, const bf16* a, int lda, const bf16* b,
                                int ldb, const bf16* normW, float eps, const bf16* w, const bf16* bias, int rows,
                                int in, KV* kc, KV* vc, const int* slots, const int* pos, const float* inv, int heads,
                                int kvHeads, int headDim, int rot) {
  NormIn nrm{a, lda, b, ldb, normW, sum, 0, eps};
  if (!normApplies(nrm, rows, in, w) || (headDim & 1) != 0 || (rot & 1) != 0 || rot > headDim) return false;
  QkvOutT<KV> o{qOut, kc, vc, slots, pos, inv, heads * headDim, kvHeads * headDim, headDim, rot};
  int out = (heads + 2 * kvHeads) * headDim;
  switch (rows) {
    case 1: gemvQkvSplit<1, true, KV>(s, nullptr, 0, w, bias, in, out, nrm, o); break;
    case 2: gemvQkvSplit<2, true, KV>(s, nullptr, 0, w, bias, in, out, nrm, o); break;
    case 3: gemvQkvSplit<3, true, KV>(s, nullptr, 0, w, bias, in, out, nrm, o); break;
    default: gemvQkvSplit<4, true, KV>(s, nullptr, 0, w, bias, in, out, nrm, o);
  }
  return true;
}

bool launchGemvQkvRope(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, const bf16* w, const bf16* bias, int rows,
                       int in, bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int heads,
                       int kvHeads, int headDim, int rot) {
  return gemvQkvRopeOf(s, qOut, x, ldx, w, bias, rows, in, kc, vc, slots, pos, inv, heads, kvHeads, headDim, rot);
}

bool launchGemvQkvRope(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, const bf16* w, const bf16* bias, int rows,
                       int in, kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int heads,
                       int kvHeads, int headDim, int rot) {
  return gemvQkvRopeOf(s, qOut, x, ldx, w, bias, rows, in, kc, vc, slots, pos, inv, heads, kvHeads, headDim, rot);
}

bool launchAddRmsNormQkvRope(cudaStream_t s, bf16* sum, bf16* qOut, const bf16* a, int lda, const bf16* b, int ldb,
                             const bf16* normW, float eps, const bf16* w, const bf16* bias, int rows, int in,
                             bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int heads,
                             int kvHeads, int headDim, int rot) {
  return addRmsNormQkvRopeOf(s, sum, qOut, a, lda, b, ldb, normW, eps, w, bias, rows, in, kc, vc, slots, pos, inv,
                             heads, kvHeads, headDim, rot);
}

bool launchAddRmsNormQkvRope(cudaStream_t s, bf16* sum, bf16* qOut, const bf16* a, int lda, const bf16* b, int ldb,
                             const bf16* normW, float eps, const bf16* w, const bf16* bias, int rows, int in,
                             kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int heads,
                             int kvHeads, int headDim, int rot) {
  return addRmsNormQkvRopeOf(s, sum, qOut, a, lda, b, ldb, normW, eps, w, bias, rows, in, kc, vc, slots, pos, inv,
                             heads, kvHeads, headDim, rot);
}

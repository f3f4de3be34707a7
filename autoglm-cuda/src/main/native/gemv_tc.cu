// The tensor-core GEMV of 2..8 rows (cuda.gemvTc): y (rows, out) = x (rows, in) · Wᵀ (+ bias) with the bf16
// m16n8k16 MMA, M = 16 output features (weight rows), N = 8 rows of x, K along in; and gate_up with SiLU·mul.
//
// The CUDA-core GEMVs (gemv.cuh) unpack and multiply every weight chunk against each of the T rows of x, so from
// about 5 rows they are bound by instruction issue, not by HBM. Here one MMA does 16 features × 8 rows × 16 k.
//
// Coalesced 16-byte loads without shuffles: a dot product does not change under a permutation of k applied to both
// W and x. Lane (g = lane / 4, t = lane % 4) loads the 8 elements at physical k = 32q + 8t .. 32q + 8t + 7 of weight
// rows g and g + 8 and of x row g (group q of 32 k). The m16n8k16 fragments (PTX ISA, "Matrix Fragments for
// mma.m16n8k16"): A a0,a1 = (row g, k 2t, 2t+1), a2,a3 = (row g + 8, k 2t, 2t+1), a4,a5 = (row g, k 2t+8, 2t+9),
// a6,a7 = (row g + 8, k 2t+8, 2t+9); B b0,b1 = (k 2t, 2t+1, column g), b2,b3 = (k 2t+8, 2t+9, column g). So MMA 1
// takes the lane's physical 8t+0..3 as logical {2t, 2t+1, 2t+8, 2t+9} (registers .x, .y of the 16-byte loads) and
// MMA 2 its physical 8t+4..7 (.z, .w): the same bijection of 16 logical onto 16 physical k for A and B.
// C c0,c1 = (feature g, rows 2t, 2t+1), c2,c3 = (feature g + 8, rows 2t, 2t+1).
//
// As the in-split GEMVs: KS warps per 16-feature tile share the in dimension (every KS-th group of 32 k), their
// partial C fragments summed through shared memory in warp order (deterministic); U groups of weights in flight per
// lane, the first U loaded before pdlWait(); weights through loadWeight (no L1 allocation). Rows of x at or above
// `rows` and features at or above `out` are clamped to valid ones and never stored.
#include "gemv.cuh"
#include "mma_tiles.cuh"

namespace {

constexpr int TC_MAX_ROWS = 8;

/**
 * C fragments (c[n]: weight tile n) of this warp's share of the k groups: tiles wr[n][0] (row g) and wr[n][1]
 * (row g + 8) against x row xr, chunk (16 bytes) index 4q + t for the groups q = ks, ks + KS, ... of nchunk chunks.
 */
template <int NT, int KS, int U>
__device__ __forceinline__ void tcAccumulate(float (&c)[NT][4], const uint4* const (&wr)[NT][2], const uint4* xr,
                                             int nchunk, int ks, int t) {
  float c2[NT][4];  // MMA 2's accumulator (a second dependency chain), added at the end
#pragma unroll
  for (int n = 0; n < NT; n++) {
#pragma unroll
    for (int i = 0; i < 4; i++) c[n][i] = c2[n][i] = 0.f;
  }
  auto mmaPair = [&](const uint4 (&w)[NT][2], uint4 xv) {
#pragma unroll
    for (int n = 0; n < NT; n++) {
      unsigned a1[4] = {w[n][0].x, w[n][1].x, w[n][0].y, w[n][1].y};
      unsigned a2[4] = {w[n][0].z, w[n][1].z, w[n][0].w, w[n][1].w};
      mma::mma16816(c[n], a1, xv.x, xv.y);
      mma::mma16816(c2[n], a2, xv.z, xv.w);
    }
  };
  int nfull = nchunk >> 2;  // groups whose 4 chunks all lie in range
  int q = ks;
  uint4 wv[U][NT][2];
  bool full = q + (U - 1) * KS < nfull;
  if (full) {
#pragma unroll
    for (int u = 0; u < U; u++) {
#pragma unroll
      for (int n = 0; n < NT; n++) {
        wv[u][n][0] = loadWeight(wr[n][0] + 4 * (q + u * KS) + t);
        wv[u][n][1] = loadWeight(wr[n][1] + 4 * (q + u * KS) + t);
      }
    }
  }
  pdlWait();
  while (full) {
    uint4 cur[U][NT][2];
#pragma unroll
    for (int u = 0; u < U; u++) {
#pragma unroll
      for (int n = 0; n < NT; n++) cur[u][n][0] = wv[u][n][0], cur[u][n][1] = wv[u][n][1];
    }
    int nq = q + U * KS;
    full = nq + (U - 1) * KS < nfull;
    if (full) {
#pragma unroll
      for (int u = 0; u < U; u++) {
#pragma unroll
        for (int n = 0; n < NT; n++) {
          wv[u][n][0] = loadWeight(wr[n][0] + 4 * (nq + u * KS) + t);
          wv[u][n][1] = loadWeight(wr[n][1] + 4 * (nq + u * KS) + t);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) mmaPair(cur[u], __ldg(xr + 4 * (q + u * KS) + t));
    q = nq;
  }
  for (; 4 * q < nchunk; q += KS) {  // the rest, the last group possibly partial (its missing chunks zero)
    int ch = 4 * q + t;
    bool ok = ch < nchunk;
    uint4 z = make_uint4(0, 0, 0, 0);
    uint4 w[NT][2];
#pragma unroll
    for (int n = 0; n < NT; n++) {
      w[n][0] = ok ? loadWeight(wr[n][0] + ch) : z;
      w[n][1] = ok ? loadWeight(wr[n][1] + ch) : z;
    }
    mmaPair(w, ok ? __ldg(xr + ch) : z);
  }
#pragma unroll
  for (int n = 0; n < NT; n++) {
#pragma unroll
    for (int i = 0; i < 4; i++) c[n][i] += c2[n][i];
  }
}

/**
 * Sums the KS warps' C fragments of each tile in warp order through shared memory; true in the tile's first warp,
 * which then holds the sums. The whole block calls it.
 */
template <int NT, int KS>
__device__ __forceinline__ bool tcCombine(float (&c)[NT][4], int warp, int lane) {
  if constexpr (KS == 1) {
    return true;
  } else {
    __shared__ float4 part[8][NT][32];
#pragma unroll
    for (int n = 0; n < NT; n++) part[warp][n][lane] = make_float4(c[n][0], c[n][1], c[n][2], c[n][3]);
    __syncthreads();
    if (warp % KS != 0) return false;
#pragma unroll
    for (int n = 0; n < NT; n++) {
      float4 s = part[warp][n][lane];
#pragma unroll
      for (int k = 1; k < KS; k++) {
        float4 p = part[warp + k][n][lane];
        s.x += p.x, s.y += p.y, s.z += p.z, s.w += p.w;
      }
      c[n][0] = s.x, c[n][1] = s.y, c[n][2] = s.z, c[n][3] = s.w;
    }
    return true;
  }
}

/** y (rows, out) = x · Wᵀ (+ bias, fp32 before rounding): 8/KS tiles of 16 features per 256-thread block. */
template <int KS, bool F32>
__global__ void __launch_bounds__(256) gemvTcK(void* y, int ldy, const bf16* x, int ldx, int rows, const bf16* w,
                                               const bf16* bias, int in, int out) {
  pdlTrigger();
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  int tile = blockIdx.x * (8 / KS) + warp / KS;
  int f0 = tile * 16 + g;
  const uint4* wr[1][2] = {{(const uint4*)(w + (size_t)min(f0, out - 1) * in),
                            (const uint4*)(w + (size_t)min(f0 + 8, out - 1) * in)}};
  const uint4* xr = (const uint4*)(x + (size_t)min(g, rows - 1) * ldx);
  float c[1][4];
  tcAccumulate<1, KS, 4>(c, wr, xr, in >> 3, warp % KS, t);
  if (!tcCombine<1, KS>(c, warp, lane)) return;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int f = f0 + (i >> 1) * 8, r = 2 * t + (i & 1);
    if (f >= out || r >= rows) continue;
    float s = c[0][i];
    if (bias != nullptr) s += bf(bias[f]);
    if (F32) ((float*)y)[(size_t)r * ldy + f] = s;
    else ((bf16*)y)[(size_t)r * ldy + f] = tobf(s);
  }
}

/**
 * gate_up with SiLU·mul: w is [gate | up] (2·inter, in); warp tile j takes gate rows 16j.. and up rows inter + 16j..
 * with the in-split of the (2·inter)-feature gemvTcK, so gate and up are its values bit for bit; rounded to bf16
 * before the activation as siluMulK does, y (rows, inter).
 */
template <int KS>
__global__ void __launch_bounds__(256) gemvTcSiluK(bf16* y, const bf16* x, int ldx, int rows, const bf16* w, int in,
                                                   int inter) {
  pdlTrigger();
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  int tile = blockIdx.x * (8 / KS) + warp / KS;
  int f0 = tile * 16 + g;
  size_t r0 = min(f0, inter - 1), r1 = min(f0 + 8, inter - 1);
  const uint4* wr[2][2] = {{(const uint4*)(w + r0 * in), (const uint4*)(w + r1 * in)},
                           {(const uint4*)(w + (r0 + inter) * in), (const uint4*)(w + (r1 + inter) * in)}};
  const uint4* xr = (const uint4*)(x + (size_t)min(g, rows - 1) * ldx);
  float c[2][4];
  tcAccumulate<2, KS, 2>(c, wr, xr, in >> 3, warp % KS, t);
  if (!tcCombine<2, KS>(c, warp, lane)) return;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int f = f0 + (i >> 1) * 8, r = 2 * t + (i & 1);
    if (f >= inter || r >= rows) continue;
    float gb = bf(tobf(c[0][i])), ub = bf(tobf(c[1][i]));
    y[(size_t)r * inter + f] = tobf(gb / (1.f + expf(-gb)) * ub);
  }
}

/**
 * The in-split of the tensor-core GEMV for `out` features: the smallest of 1, 2, 4, 8 warps per 16-feature tile that
 * gives 4096·gemvVariant warps or more (about 31 per SM on 132 SMs: enough weight bytes in flight).
 */
int tcSplit(long out) {
  long tiles = (out + 15) / 16, want = 4096L * (g_kernels.gemvVariant > 0 ? g_kernels.gemvVariant : 1);
  return tiles >= want ? 1 : tiles * 2 >= want ? 2 : tiles * 4 >= want ? 4 : 8;
}

bool tcApplies(int rows, int in, int ldx, const void* x, const void* w) {
  return rows >= 1 && rows <= TC_MAX_ROWS && (in & 7) == 0 && (ldx & 7) == 0 &&
         (((uintptr_t)x | (uintptr_t)w) & 15) == 0;
}

template <int KS>
void gemvTc(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w, const bf16* bias,
            int rows, int in, int out) {
  int blocks = ((out + 15) / 16 + 8 / KS - 1) / (8 / KS);
  if (f32Out) launchK(true, gemvTcK<KS, true>, blocks, 256, s, y, ldy, x, ldx, rows, w, bias, in, out);
  else launchK(true, gemvTcK<KS, false>, blocks, 256, s, y, ldy, x, ldx, rows, w, bias, in, out);
}

template <int KS>
void gemvTcSilu(cudaStream_t s, bf16* y, const bf16* x, int ldx, const bf16* w, int rows, int in, int inter) {
  int blocks = ((inter + 15) / 16 + 8 / KS - 1) / (8 / KS);
  launchK(true, gemvTcSiluK<KS>, blocks, 256, s, y, x, ldx, rows, w, in, inter);
}

}  // namespace

bool launchGemvTc(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                  const bf16* bias, int rows, int in, int out) {
  if (!tcApplies(rows, in, ldx, x, w) || out < 1) return false;
  switch (tcSplit(out)) {
    case 1: gemvTc<1>(s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out); break;
    case 2: gemvTc<2>(s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out); break;
    case 4: gemvTc<4>(s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out); break;
    default: gemvTc<8>(s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out);
  }
  return true;
}

bool launchGemvTcSilu(cudaStream_t s, bf16* y, const bf16* x, int ldx, const bf16* w, int rows, int in, int inter) {
  if (!tcApplies(rows, in, ldx, x, w) || inter < 1) return false;
  switch (tcSplit(2L * inter)) {  // the split of the (2·inter)-feature GEMV: the same sums
    case 1: gemvTcSilu<1>(s, y, x, ldx, w, rows, in, inter); break;
    case 2: gemvTcSilu<2>(s, y, x, ldx, w, rows, in, inter); break;
    case 4: gemvTcSilu<4>(s, y, x, ldx, w, rows, in, inter); break;
    default: gemvTcSilu<8>(s, y, x, ldx, w, rows, in, inter);
  }
  return true;
}

bool gemvTcTakes(int rows) {
  return g_kernels.gemvTc > 0 && rows >= g_kernels.gemvTc && rows <= TC_MAX_ROWS;
}

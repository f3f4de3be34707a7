// Routed experts: fp32 router logits, the grouped GEMV over rows sorted by expert, the weighted combine.
#include "gemv.cuh"

namespace {

constexpr int ROUTER_KS = 4;  // warps sharing one expert's row of the router (the hidden dimension split 4 ways)

/**
 * This warp's share of router logits for T rows: every ROUTER_KS-th 8-float chunk of the expert's fp32 row (two
 * float4 loads) against 8 bf16 of each x row (one 16-byte load), from chunk ks·32 + lane; reduced over the warp.
 */
template <int T>
__device__ __forceinline__ void routerAccumulate(float (&acc)[8], const float4* wr, int nchunk, const bf16* x,
                                                 int ldx, int ks, int lane) {
  constexpr int STEP = 32 * ROUTER_KS;
#pragma unroll
  for (int t = 0; t < 8; t++) acc[t] = 0.f;
#pragma unroll 4
  for (int c = ks * 32 + lane; c < nchunk; c += STEP) {
    float4 w0 = __ldg(wr + 2 * c), w1 = __ldg(wr + 2 * c + 1);
    float wf[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
#pragma unroll
    for (int t = 0; t < T; t++) {
      float xf[8];
      unpack8(__ldg((const uint4*)(x + (size_t)t * ldx) + c), xf);
#pragma unroll
      for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
    }
  }
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = warpSum(acc[t]);
}

/**
 * Router logits in fp32: logits (rows, experts) = x (rows, hidden) · Wᵀ with W fp32. A block of 8 warps holds
 * 8 / ROUTER_KS experts for up to 8 rows (blockIdx.y: rows 8y..8y+7); ROUTER_KS warps share an expert, their
 * partial sums added in warp order through shared memory. Needs hidden % 8 == 0 and 16-byte aligned x rows and W.
 */
__global__ void __launch_bounds__(256) routerLogitsK(float* logits, const bf16* x, int ldx, const float* w,
                                                     int rows, int hidden, int experts) {
  pdlTrigger();
  pdlWait();
  constexpr int EPB = 8 / ROUTER_KS;
  __shared__ float part[8][8];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int eib = warp / ROUTER_KS, ks = warp - eib * ROUTER_KS;
  int e = blockIdx.x * EPB + eib;
  bool live = e < experts;
  int r0 = blockIdx.y * 8, n = min(8, rows - r0);
  const float4* wr = (const float4*)(w + (size_t)(live ? e : 0) * hidden);
  const bf16* xr = x + (size_t)r0 * ldx;
  int nchunk = live ? hidden >> 3 : 0;
  float acc[8];
  switch (n) {
    case 1: routerAccumulate<1>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    case 2: routerAccumulate<2>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    case 3: routerAccumulate<3>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    case 4: routerAccumulate<4>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    case 5: routerAccumulate<5>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    case 6: routerAccumulate<6>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    case 7: routerAccumulate<7>(acc, wr, nchunk, xr, ldx, ks, lane); break;
    default: routerAccumulate<8>(acc, wr, nchunk, xr, ldx, ks, lane);
  }
  if (lane == 0) {
#pragma unroll
    for (int t = 0; t < 8; t++) part[warp][t] = acc[t];
  }
  __syncthreads();
  if (ks != 0 || !live || lane >= n) return;
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < ROUTER_KS; k++) s += part[eib * ROUTER_KS + k][lane];
  logits[(size_t)(r0 + lane) * experts + e] = s;
}

/** The fallback for widths or pointers the vector kernel does not take: one warp per (row, expert), scalar loads. */
__global__ void routerLogitsScalarK(float* logits, const bf16* x, int ldx, const float* w, int hidden, int experts) {
  pdlTrigger();
  pdlWait();
  int e = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (e >= experts) return;
  const bf16* xr = x + (size_t)blockIdx.y * ldx;
  const float* wr = w + (size_t)e * hidden;
  float acc = 0.f;
  for (int i = lane; i < hidden; i += 32) acc += bf(xr[i]) * wr[i];
  acc = warpSum(acc);
  if (lane == 0) logits[(size_t)blockIdx.y * experts + e] = acc;
}

constexpr int GROUPED_R = 2;  // adjacent output features per warp: each x chunk loaded once serves both
constexpr int GROUPED_U = 2;  // 16-byte chunks per weight row a lane holds in flight (GROUPED_R·GROUPED_U loads)

/**
 * One warp's R weight rows (wr, wr + rstride, ...; rstride 0 repeats the one row) against T rows of x (x, x + in, ...): lane takes chunks lane,
 * lane + 32, ... in ascending order (the summation order of the one-warp-per-feature GEMV), software-pipelined: the
 * next U chunks of every row are loaded (bounds-predicated, so the tail stays pipelined too) while the current U are
 * used. Reduced over the warp.
 */
template <int T>
__device__ __forceinline__ void groupedAccumulate(float (&acc)[GROUPED_R][8], const uint4* wr, int rstride,
                                                  int nvec, const bf16* x, int in, int lane) {
  constexpr int R = GROUPED_R, U = GROUPED_U;
#pragma unroll
  for (int r = 0; r < R; r++) {
#pragma unroll
    for (int t = 0; t < 8; t++) acc[r][t] = 0.f;
  }
  uint4 nx[U][R];
  int v = lane;
#pragma unroll
  for (int u = 0; u < U; u++) {
    if (v + u * 32 < nvec) {
#pragma unroll
      for (int r = 0; r < R; r++) nx[u][r] = loadWeight(wr + (size_t)r * rstride + v + u * 32);
    }
  }
  while (v < nvec) {
    uint4 cur[U][R];
#pragma unroll
    for (int u = 0; u < U; u++) {
#pragma unroll
      for (int r = 0; r < R; r++) cur[u][r] = nx[u][r];
    }
    int nv = v + U * 32;
#pragma unroll
    for (int u = 0; u < U; u++) {
      if (nv + u * 32 < nvec) {
#pragma unroll
        for (int r = 0; r < R; r++) nx[u][r] = loadWeight(wr + (size_t)r * rstride + nv + u * 32);
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      if (v + u * 32 < nvec) {
        float wf[R][8];
#pragma unroll
        for (int r = 0; r < R; r++) unpack8(cur[u][r], wf[r]);
#pragma unroll
        for (int t = 0; t < T; t++) {
          float xf[8];
          unpack8(__ldg((const uint4*)(x + (size_t)t * in) + v + u * 32), xf);
#pragma unroll
          for (int r = 0; r < R; r++) {
#pragma unroll
            for (int i = 0; i < 8; i++) acc[r][t] += wf[r][i] * xf[i];
          }
        }
      }
    }
    v = nv;
  }
#pragma unroll
  for (int r = 0; r < R; r++) {
#pragma unroll
    for (int t = 0; t < T; t++) acc[r][t] = warpSum(acc[r][t]);
  }
}

/**
 * Grouped GEMV for routed experts: rows [offsets[g], offsets[g+1]) of x (sorted by expert) go through expert
 * expertIds[g]'s (out, in) matrix, stacked at w + e·out·in. One warp per GROUPED_R adjacent output features of one
 * group (8 warps, 8·GROUPED_R features per block); the weight rows stream from HBM once for the group's first 8 rows
 * and come from L2 for further runs of 8. Each output is summed as by the one-warp-per-feature GEMV (lane order, then
 * the warp reduction). The plan (expertIds, offsets) is data of an earlier kernel, so no weight is loaded before
 * pdlWait().
 */
__global__ void __launch_bounds__(256) groupedGemvK(bf16* y, const bf16* x, const bf16* w, const int* expertIds,
                                                    const int* offsets, int in, int out) {
  pdlTrigger();
  pdlWait();
  int row = (blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5)) * GROUPED_R;
  int lane = threadIdx.x & 31;
  if (row >= out) return;
  int g = blockIdx.y;
  int first = offsets[g], last = offsets[g + 1];
  if (first >= last) return;
  int nvec = in >> 3;
  int live = min(GROUPED_R, out - row);  // a warp at an odd end reads its one row twice and writes it once
  int rstride = live == GROUPED_R ? nvec : 0;
  const uint4* wr = (const uint4*)(w + ((size_t)expertIds[g] * out + row) * in);
  for (int r0 = first; r0 < last; r0 += 8) {
    int n = min(8, last - r0);
    const bf16* xr = x + (size_t)r0 * in;
    float acc[GROUPED_R][8];
    switch (n) {
      case 1: groupedAccumulate<1>(acc, wr, rstride, nvec, xr, in, lane); break;
      case 2: groupedAccumulate<2>(acc, wr, rstride, nvec, xr, in, lane); break;
      case 3: groupedAccumulate<3>(acc, wr, rstride, nvec, xr, in, lane); break;
      case 4: groupedAccumulate<4>(acc, wr, rstride, nvec, xr, in, lane); break;
      case 5: groupedAccumulate<5>(acc, wr, rstride, nvec, xr, in, lane); break;
      case 6: groupedAccumulate<6>(acc, wr, rstride, nvec, xr, in, lane); break;
      case 7: groupedAccumulate<7>(acc, wr, rstride, nvec, xr, in, lane); break;
      default: groupedAccumulate<8>(acc, wr, rstride, nvec, xr, in, lane);
    }
#pragma unroll
    for (int r = 0; r < GROUPED_R; r++) {
#pragma unroll
      for (int t = 0; t < 8; t++) {
        if (r < live && t < n && lane == (r * 8 + t) % 32) y[(size_t)(r0 + t) * out + row + r] = tobf(acc[r][t]);
      }
    }
  }
}

/** out[t] = Σ_j weight[t·k+j] · d[rowOf[t·k+j]], j ascending (the token's experts in MoeRouter's topk order). */
__global__ void moeCombineK(bf16* out, int ldo, const bf16* d, const int* rowOf, const float* weight, int k,
                            int hidden) {
  pdlTrigger();
  pdlWait();
  int t = blockIdx.x;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < k; j++) acc += weight[t * k + j] * bf(d[(size_t)rowOf[t * k + j] * hidden + c]);
    out[(size_t)t * ldo + c] = tobf(acc);
  }
}

}  // namespace

void launchRouterLogits(cudaStream_t s, float* logits, const bf16* x, int ldx, const float* w, int rows, int hidden,
                        int experts) {
  if ((hidden & 7) == 0 && (ldx & 7) == 0 && (((uintptr_t)x | (uintptr_t)w) & 15) == 0) {
    constexpr int EPB = 8 / ROUTER_KS;
    launchK(false, routerLogitsK, dim3((experts + EPB - 1) / EPB, (rows + 7) / 8), 256, s, logits, x, ldx, w, rows,
            hidden, experts);
  } else {
    launchK(false, routerLogitsScalarK, dim3((experts + 7) / 8, rows), 256, s, logits, x, ldx, w, hidden, experts);
  }
}

bool launchGroupedGemv(cudaStream_t s, bf16* y, const bf16* x, const bf16* w, const int* expertIds,
                       const int* offsets, int groups, int in, int out) {
  if ((in & 7) != 0 || (((uintptr_t)x | (uintptr_t)w) & 15) != 0) return false;
  constexpr int FPB = 8 * GROUPED_R;  // output features per block
  launchK(true, groupedGemvK, dim3((out + FPB - 1) / FPB, groups), 256, s, y, x, w, expertIds, offsets, in, out);
  return true;
}

void launchMoeCombine(cudaStream_t s, bf16* out, int ldo, const bf16* d, const int* rowOf, const float* weight,
                      int rows, int k, int hidden) {
  launchK(true, moeCombineK, rows, 256, s, out, ldo, d, rowOf, weight, k, hidden);
}

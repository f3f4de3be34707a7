// Routed experts: fp32 router logits, the grouped GEMV over rows sorted by expert, the weighted combine.
#include "common.cuh"

namespace {

/** Router logits in fp32: logits (rows, experts) = x (rows, hidden) · Wᵀ with W fp32; one warp per (row, expert). */
__global__ void routerLogitsK(float* logits, const bf16* x, int ldx, const float* w, int hidden, int experts) {
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

/**
 * Grouped GEMV for routed experts: rows [offsets[g], offsets[g+1]) of x (sorted by expert) go through expert
 * expertIds[g]'s (out, in) matrix, stacked at w + e·out·in. One warp per output feature of one group; the weight
 * row is read once per 8 rows of the group.
 */
__global__ void __launch_bounds__(256) groupedGemvK(bf16* y, const bf16* x, const bf16* w, const int* expertIds,
                                                    const int* offsets, int in, int out) {
  pdlTrigger();
  pdlWait();
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (row >= out) return;
  int g = blockIdx.y;
  int first = offsets[g], last = offsets[g + 1];
  const uint4* wr = (const uint4*)(w + ((size_t)expertIds[g] * out + row) * in);
  int nvec = in >> 3;
  for (int r0 = first; r0 < last; r0 += 8) {
    int n = min(8, last - r0);
    float acc[8];
#pragma unroll
    for (int t = 0; t < 8; t++) acc[t] = 0.f;
    for (int v = lane; v < nvec; v += 32) {
      float wf[8], xf[8];
      unpack8(r0 == first ? loadStreaming(wr + v) : wr[v], wf);
#pragma unroll
      for (int t = 0; t < 8; t++) {
        if (t < n) {
          unpack8(((const uint4*)(x + (size_t)(r0 + t) * in))[v], xf);
#pragma unroll
          for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
        }
      }
    }
#pragma unroll
    for (int t = 0; t < 8; t++) {
      float s = warpSum(acc[t]);
      if (lane == 0 && t < n) y[(size_t)(r0 + t) * out + row] = tobf(s);
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
  launchK(false, routerLogitsK, dim3((experts + 7) / 8, rows), 256, s, logits, x, ldx, w, hidden, experts);
}

bool launchGroupedGemv(cudaStream_t s, bf16* y, const bf16* x, const bf16* w, const int* expertIds,
                       const int* offsets, int groups, int in, int out) {
  if ((in & 7) != 0 || (((uintptr_t)x | (uintptr_t)w) & 15) != 0) return false;
  launchK(true, groupedGemvK, dim3((out + 7) / 8, groups), 256, s, y, x, w, expertIds, offsets, in, out);
  return true;
}

void launchMoeCombine(cudaStream_t s, bf16* out, int ldo, const bf16* d, const int* rowOf, const float* weight,
                      int rows, int k, int hidden) {
  launchK(true, moeCombineK, rows, 256, s, out, ldo, d, rowOf, weight, k, hidden);
}

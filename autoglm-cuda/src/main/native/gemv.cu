// The small-batch GEMVs (rows <= FUSE_GEMV_MAX_ROWS): gemvK (cuda.gemvVariant=0) and the in-split gemv2K.
#include "gemv.cuh"

namespace {

/** One warp per output feature; weights streamed once with 16-byte loads, reused across the T rows. */
template <int T, bool F32>
__global__ void __launch_bounds__(256) gemvK(void* y, int ldy, const bf16* x, int ldx, const bf16* w,
                                             const bf16* bias, int in, int out) {
  pdlTrigger();
  pdlWait();
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (row >= out) return;
  const uint4* wr = (const uint4*)(w + (size_t)row * in);
  int nvec = in >> 3;
  float acc[T];
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = 0.f;
#pragma unroll 4
  for (int v = lane; v < nvec; v += 32) {
    float wf[8], xf[8];
    unpack8(loadStreaming(wr + v), wf);
#pragma unroll
    for (int t = 0; t < T; t++) {
      unpack8(((const uint4*)(x + (size_t)t * ldx))[v], xf);
#pragma unroll
      for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
    }
  }
#pragma unroll
  for (int t = 0; t < T; t++) {
    float s = warpSum(acc[t]);
    if (lane == 0) {
      if (bias != nullptr) s += bf(bias[row]);
      if (F32) ((float*)y)[(size_t)t * ldy + row] = s;
      else ((bf16*)y)[(size_t)t * ldy + row] = tobf(s);
    }
  }
}

/**
 * GEMV v2: KS warps share one output feature (the in dimension split KS ways, partial sums combined through shared
 * memory), 8/KS features per 256-thread block, so that narrow outputs still spread over enough blocks to keep HBM
 * busy; each lane keeps U independent 16-byte weight loads in flight (gemvAccumulate).
 */
template <int T, bool F32, int KS>
__global__ void __launch_bounds__(256) gemv2K(void* y, int ldy, const bf16* x, int ldx, const bf16* w,
                                              const bf16* bias, int in, int out) {
  pdlTrigger();
  constexpr int RPB = 8 / KS;
  __shared__ float part[KS > 1 ? 8 : 1][T];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int row = blockIdx.x * RPB + rib;
  bool live = row < out;
  const uint4* wr = (const uint4*)(w + (size_t)(live ? row : 0) * in);
  float acc[T];
  gemvAccumulate<T, KS>(acc, wr, live ? in >> 3 : 0, x, ldx, ks, lane);
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

}  // namespace

#define GEMV_CASE(T) \
  case T: \
    if (f32Out) launchK(true, gemvK<T, true>, blocks, 256, s, y, ldy, x, ldx, w, bias, in, out); \
    else launchK(true, gemvK<T, false>, blocks, 256, s, y, ldy, x, ldx, w, bias, in, out); \
    return true;

template <int T, int KS>
static void gemv2(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                  const bf16* bias, int in, int out) {
  int blocks = (out + 8 / KS - 1) / (8 / KS);
  if (f32Out) launchK(true, gemv2K<T, true, KS>, blocks, 256, s, y, ldy, x, ldx, w, bias, in, out);
  else launchK(true, gemv2K<T, false, KS>, blocks, 256, s, y, ldy, x, ldx, w, bias, in, out);
}

int inSplit(long out) {
  long wave = 1024L * g_kernels.gemvVariant;
  return out >= wave * 8 ? 1 : out >= wave * 4 ? 2 : out >= wave * 2 ? 4 : 8;
}

template <int T>
static void gemv2Split(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                       const bf16* bias, int in, int out) {
  switch (inSplit(out)) {
    case 1: gemv2<T, 1>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); break;
    case 2: gemv2<T, 2>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); break;
    case 4: gemv2<T, 4>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); break;
    default: gemv2<T, 8>(s, y, ldy, f32Out, x, ldx, w, bias, in, out);
  }
}

#define GEMV2_CASE(T) \
  case T: gemv2Split<T>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;

bool launchGemv(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                const bf16* bias, int rows, int in, int out) {
  if ((in & 7) != 0 || (ldx & 7) != 0 || (((uintptr_t)x | (uintptr_t)w) & 15) != 0) return false;
  if (gemvTcTakes(rows)) return launchGemvTc(s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out);
  if (g_kernels.gemvVariant != 0) {
    switch (rows) {
      GEMV2_CASE(1) GEMV2_CASE(2) GEMV2_CASE(3) GEMV2_CASE(4) GEMV2_CASE(5) GEMV2_CASE(6) GEMV2_CASE(7)
      GEMV2_CASE(8)
      default: return false;
    }
  }
  int blocks = (out + 7) / 8;
  switch (rows) {
    GEMV_CASE(1) GEMV_CASE(2) GEMV_CASE(3) GEMV_CASE(4) GEMV_CASE(5) GEMV_CASE(6) GEMV_CASE(7) GEMV_CASE(8)
    default: return false;
  }
}

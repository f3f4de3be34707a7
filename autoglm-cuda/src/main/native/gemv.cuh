// The small-batch GEMVs' shared device code (gemv.cu, gemv_fused.cu): the pipelined weight stream and the fused
// residual add + RMSNorm prologue.
#pragma once
#include "common.cuh"

/**
 * The in-split (warps per output feature) of the GEMVs for `out` features: the smallest of 1, 2, 4, 8 that gives
 * 1024·gemvVariant blocks of 256 threads or more (1024 ≈ one wave: 8 per SM on 132 SMs).
 */
int inSplit(long out);

/**
 * Where the fused QKV GEMVs (bf16: gemv_fused.cu; FP8: gemv_fp8.cu, gemv_fp8_mma.cu) put their outputs: rotated q
 * into q (T, qWidth), rotated k and v into their KV-cache slots, as KV elements (bf16, or kv8 for an FP8 cache:
 * kv_cache.cuh's toKv). Interleaved partial RoPE only (pairs 2i, 2i+1 lie in one block).
 */
template <typename KV>
struct QkvOutT {
  bf16* q;
  KV* kc;
  KV* vc;
  const int* slots;
  const int* pos;
  const float* inv;
  int qWidth;
  int kvWidth;
  int headDim;
  int rot;
};
using QkvOut = QkvOutT<bf16>;

namespace {

__device__ __forceinline__ uint4 loadWeight(const uint4* p) { // streamed once: no L1 allocation; schedulable
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}

/**
 * The accumulation of the in-split GEMVs: this warp's share (every KS-th 16-byte chunk, from chunk ks·32 + lane) of
 * one weight row against the T rows of x, reduced over the warp. The weights are software-pipelined: each lane holds
 * the next U chunks in registers while it uses the current U. The first U are loaded before pdlWait(), so that under
 * PDL a GEMV streams its weights while the kernel before it finishes.
 */
struct NoPrologue {
  __device__ void operator()() const {}
};

/** x's 16-byte chunk: through the read-only cache from global memory, or a plain load from shared memory (SX). */
template <bool SX>
__device__ __forceinline__ uint4 loadX(const uint4* p) {
  if constexpr (SX) {
    uint4 r;
    unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "r"(a));
    return r;
  } else {
    return __ldg(p);
  }
}

template <int T, int KS, bool SX = false, typename Pro = NoPrologue>
__device__ __forceinline__ void gemvAccumulate(float (&acc)[T], const uint4* wr, int nvec, const bf16* x, int ldx,
                                               int ks, int lane, Pro prologue = Pro()) {
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
  prologue();  // the whole block, before any x is read (the fused RMSNorm computes x here)
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
    for (int u = 0; u < U; u++) {
      float wf[8], xf[8];
      unpack8(cur[u], wf);
#pragma unroll
      for (int t = 0; t < T; t++) {
        unpack8(loadX<SX>((const uint4*)(x + (size_t)t * ldx) + v + u * STEP), xf);
#pragma unroll
        for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
      }
    }
    v = nv;
  }
  for (; v < nvec; v += STEP) {
    float wf[8], xf[8];
    unpack8(loadWeight(wr + v), wf);
#pragma unroll
    for (int t = 0; t < T; t++) {
      unpack8(loadX<SX>((const uint4*)(x + (size_t)t * ldx) + v), xf);
#pragma unroll
      for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
    }
  }
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = warpSum(acc[t]);
}

/**
 * The input of a GEMV that is the RMSNorm of a residual sum (fused residual add + RMSNorm + GEMV): x = rmsNorm(a + b)
 * · w, with the sum a + b (rounded to bf16) written to `sum` by block 0. vb: the block size addRmsNormK runs with
 * for these rows (rowThreads), whose summation order the prologue reproduces.
 */
struct NormIn {
  const bf16* a;
  int lda;
  const bf16* b;
  int ldb;
  const bf16* w;
  bf16* sum;  // (T, n), dense
  int vb;
  float eps;
};

/** Most elements of a row one thread of addRmsNormK keeps in registers (its R). */
constexpr int NORM_R = 8;
/** Most addRmsNormK threads one thread of a 256-thread GEMV block plays (1024 / 256). */
constexpr int NORM_M = 4;

/**
 * Computes x = rmsNorm(a + b) · w for T rows of n into shared memory (T, n), bit for bit as addRmsNormK does with
 * p.vb threads: thread j of the 256 plays addRmsNormK's threads j + 256·m, which keeps their lanes and their warps'
 * order, so the per-thread sums, the warp sums and the block sum add in the same order. Block 0 writes the sums.
 * Needs n <= NORM_R·vb and vb <= 1024 (the host checks). The whole block calls it.
 */
template <int T>
__device__ void normPrologue(bf16* xs, const NormIn& p, int n) {
  __shared__ float red[33];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int nwv = p.vb >> 5;  // addRmsNormK's warps
#pragma unroll 1
  for (int t = 0; t < T; t++) {
    const bf16* ar = p.a + (size_t)t * p.lda;
    const bf16* br = p.b + (size_t)t * p.ldb;
    bf16* xr = xs + (size_t)t * n;  // holds the sums until they are normed (each thread its own elements)
#pragma unroll 1
    for (int m = 0; m < NORM_M; m++) {  // one addRmsNormK warp per iteration, in the warp's own summation order
      int vt = threadIdx.x + 256 * m;
      float ss = 0.f;
      if (vt < p.vb) {  // vb is a multiple of 32: the whole warp or none of it
#pragma unroll
        for (int k = 0; k < NORM_R; k++) {
          int i = vt + k * p.vb;
          if (i < n) {
            bf16 sb = tobf(bf(ar[i]) + bf(br[i]));
            if (blockIdx.x == 0) p.sum[(size_t)t * n + i] = sb;
            xr[i] = sb;
            float v = bf(sb);
            ss += v * v;
          }
        }
      }
      float wsum = warpSum(ss);
      if (lane == 0 && warp + 8 * m < nwv) red[warp + 8 * m] = wsum;
    }
    __syncthreads();
    if (warp == 0) {
      float tot = lane < nwv ? red[lane] : 0.f;
      tot = warpSum(tot);
      if (lane == 0) red[32] = tot;
    }
    __syncthreads();
    float inv = rsqrtf(red[32] / n + p.eps);
#pragma unroll 1
    for (int m = 0; m < NORM_M; m++) {
      int vt = threadIdx.x + 256 * m;
#pragma unroll
      for (int k = 0; k < NORM_R; k++) {
        int i = vt + k * p.vb;
        if (vt < p.vb && i < n) xr[i] = tobf(bf(xr[i]) * inv * bf(p.w[i]));
      }
    }
    __syncthreads();  // red is reused by the next row; xs complete before the GEMV reads it
  }
}

static_assert(NORM_R * NORM_M * 256 == FUSE_NORM_MAX_IN, "the fused-norm GEMVs' widest input is NORM_R·NORM_M·256");

}  // namespace

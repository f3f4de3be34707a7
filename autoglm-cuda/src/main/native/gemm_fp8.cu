// A tensor-core GEMM for FP8 weights and bf16 activations, for the batches between the GEMVs (rows <= 8) and
// prefill: y (rows, out) = x (rows, in) · Wᵀ (+ bias), W block-scaled e4m3. mma.sync m16n8k16 (bf16 in, fp32
// accumulate) with the weights as the A operand, loaded straight from global memory into registers (16 contiguous
// bytes per lane and row) and dequantized there (bf16(e4m3 · scale): the rounding of the dequantize + cuBLAS path);
// x is the B operand, also straight from global memory (L2-resident). No shared memory on the way in: the k order
// inside each 16-wide mma step is permuted alike in A and B (lane t's k slots 2t, 2t+1, 2t+8, 2t+9 hold k 4t..4t+3 of
// its 16-byte chunk), so every lane's loads are whole 16-byte vectors. A block is 8 warps over 32 output features ×
// 64 rows of x; the warps split k (each takes every 8th 64-wide step, the next step's weights in flight while it
// computes) and add their partial sums through shared memory in a fixed order. Weights stream once per 64 rows.
#include "fp8.cuh"

namespace {

constexpr int MMA_WARPS = 8;   // split k within a block
constexpr int MMA_BN = 32;     // output features per block (two m16 tiles)
constexpr int MMA_BM = 64;     // rows of x per block (eight n8 tiles, two halves of four)
constexpr int MMA_BK = 64;     // k per step: one 16-byte chunk per lane (4 lanes per row)

__device__ __forceinline__ void mma16816(float (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                         unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/** Two e4m3 (the low 16 bits of v) times scale, as a bf16 pair (first in the low half). */
__device__ __forceinline__ unsigned dequant2(unsigned v, float scale) {
  float2 f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(v & 0xffffu), __NV_E4M3)));
  __nv_bfloat162 h = __floats2bfloat162_rn(f.x * scale, f.y * scale);
  return *(unsigned*)&h;
}

__global__ void __launch_bounds__(MMA_WARPS * 32, 1) gemmFp8K(bf16* y, int ldy, const bf16* x, int ldx, Fp8Mat w,
                                                              const bf16* bias, int rows, int in, int out) {
  __shared__ float part[MMA_WARPS / 2][64][32];  // the partial sums of half the warps: 64 per lane
  pdlTrigger();
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  int n0 = blockIdx.x * MMA_BN, m0 = blockIdx.y * MMA_BM;
  int steps = in / MMA_BK;
  float acc[2][8][4];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
      for (int k = 0; k < 4; k++) acc[i][j][k] = 0.f;
  // this lane's weight rows: features n0 + 16·mi + g + 8·h (clamped: rows past `out` compute garbage, never stored)
  const uint4* wr[2][2];
  const float* sr[2][2];
#pragma unroll
  for (int mi = 0; mi < 2; mi++) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
      int f = min(n0 + 16 * mi + g + 8 * h, out - 1);
      wr[mi][h] = (const uint4*)(w.q + (size_t)f * in) + t;  // + 4 chunks per step
      sr[mi][h] = w.s + (size_t)(f >> w.rowShift) * w.sld;
    }
  }
  // this lane's rows of x: m0 + 8·ni + g (clamped likewise)
  int halves = rows - m0 > 32 ? 2 : 1;
  uint4 cur[2][2], nxt[2][2];
  int s = warp;
  if (s < steps) {
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int h = 0; h < 2; h++) cur[mi][h] = loadStreaming(wr[mi][h] + 4 * s);
  }
  pdlWait();
  for (; s < steps; s += MMA_WARPS) {
    bool more = s + MMA_WARPS < steps;
    if (more) {
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int h = 0; h < 2; h++) nxt[mi][h] = loadStreaming(wr[mi][h] + 4 * (s + MMA_WARPS));
    }
    int k = s * MMA_BK + 16 * t;  // this lane's 16 columns of the step
    float sc[2][2];
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int h = 0; h < 2; h++) sc[mi][h] = __ldg(sr[mi][h] + (k >> w.colShift));
#pragma unroll
    for (int half = 0; half < 2; half++) {
      if (half >= halves) break;
      uint4 xv[4][2];
#pragma unroll
      for (int j = 0; j < 4; j++) {
        int r = min(m0 + 32 * half + 8 * j + g, rows - 1);
        const uint4* xr = (const uint4*)(x + (size_t)r * ldx + k);
        xv[j][0] = __ldg(xr);
        xv[j][1] = __ldg(xr + 1);
      }
#pragma unroll
      for (int q = 0; q < 4; q++) {  // mma step q: k 4q..4q+3 of every lane's 16
        unsigned a[2][4];
#pragma unroll
        for (int mi = 0; mi < 2; mi++) {
          unsigned lo = ((const unsigned*)&cur[mi][0])[q], hi = ((const unsigned*)&cur[mi][1])[q];
          a[mi][0] = dequant2(lo, sc[mi][0]);        // row g, slots 2t, 2t+1 = k 4q, 4q+1
          a[mi][1] = dequant2(hi, sc[mi][1]);        // row g + 8
          a[mi][2] = dequant2(lo >> 16, sc[mi][0]);  // row g, slots 2t+8, 2t+9 = k 4q+2, 4q+3
          a[mi][3] = dequant2(hi >> 16, sc[mi][1]);
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const unsigned* xw = (const unsigned*)&xv[j][q >> 1];
          unsigned b0 = xw[2 * (q & 1)], b1 = xw[2 * (q & 1) + 1];
#pragma unroll
          for (int mi = 0; mi < 2; mi++) {
            mma16816(acc[mi][4 * half + j], a[mi][0], a[mi][1], a[mi][2], a[mi][3], b0, b1);
          }
        }
      }
    }
    if (more) {
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int h = 0; h < 2; h++) cur[mi][h] = nxt[mi][h];
    }
  }
  // the warps' partial sums: 8 → 4 → 2 → 1, each warp adding its partner's (a fixed order)
#pragma unroll 1
  for (int width = MMA_WARPS / 2; width >= 1; width >>= 1) {
    if (warp >= width && warp < 2 * width) {
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) part[warp - width][(mi * 8 + j) * 4 + e][lane] = acc[mi][j][e];
    }
    __syncthreads();
    if (warp < width) {
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) acc[mi][j][e] += part[warp][(mi * 8 + j) * 4 + e][lane];
    }
    __syncthreads();
  }
  if (warp != 0) return;
#pragma unroll
  for (int mi = 0; mi < 2; mi++) {
#pragma unroll
    for (int j = 0; j < 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int f = n0 + 16 * mi + g + 8 * (e >> 1);  // C row: feature
        int r = m0 + 8 * j + 2 * t + (e & 1);     // C column: row of x
        if (f < out && r < rows) {
          float v = acc[mi][j][e];
          if (bias != nullptr) v += bf(bias[f]);
          y[(size_t)r * ldy + f] = tobf(v);
        }
      }
    }
  }
}

}  // namespace

bool launchGemmFp8(cudaStream_t s, bf16* y, int ldy, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows,
                   int in, int out) {
  if (rows < 1 || out < 1 || in % MMA_BK != 0 || (ldx & 7) != 0 || (((uintptr_t)x | (uintptr_t)w.q) & 15) != 0 ||
      w.colShift < 4) {
    return false;
  }
  dim3 grid((out + MMA_BN - 1) / MMA_BN, (rows + MMA_BM - 1) / MMA_BM);
  launchK(true, gemmFp8K, grid, MMA_WARPS * 32, s, y, ldy, x, ldx, w, bias, rows, in, out);
  return true;
}

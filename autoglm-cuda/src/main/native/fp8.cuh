// The FP8 (E4M3, block-scaled) kernels' shared device code (gemv_fp8.cu, fp8.cu): e4m3 → fp32 in registers and the
// dot product of one 16-byte weight chunk (16 weights) with the matching 16 inputs of T rows.
#pragma once
#include "gemv.cuh"  // QkvOut
#include <cuda_fp8.h>

// The tensor-core FP8 GEMVs (gemv_fp8_mma.cu), taken by gemv_fp8.cu's launchers where fp8MmaApplies.
/** The in-split (warps per 16-row tile: 1, 2, 4 or 8) of the tensor-core FP8 GEMVs for `out` rows. */
int fp8MmaSplit(long out);
/** Whether the tensor-core FP8 GEMVs take w for `rows` x rows (fp8GemvTc <= rows <= 8, scale blocks >= 128 wide). */
bool fp8MmaApplies(const Fp8Mat& w, int rows);
void launchGemvFp8Mma(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const Fp8Mat& w,
                      const bf16* bias, int rows, int in, int out);
/** false when the split of the 2·inter rows is 8 (no gate/up pair in a block). */
bool launchGemvSiluFp8Mma(cudaStream_t s, bf16* y, const bf16* x, int ldx, const Fp8Mat& w, int rows, int in,
                          int inter);
void launchGemvQkvFp8Mma(cudaStream_t s, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias, int rows, int in,
                         int out, const QkvOut& o);
/** launchGemvQkvFp8Mma into an FP8 KV cache. */
void launchGemvQkvFp8Mma(cudaStream_t s, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias, int rows, int in,
                         int out, const QkvOutT<kv8>& o);

namespace {

/** 8 e4m3 weights (two 32-bit words, byte i = column i) to fp32; exact (every e4m3 value is an fp16 value). */
__device__ __forceinline__ void unpackFp8x8(unsigned w0, unsigned w1, float* f) {
  const unsigned w[2] = {w0, w1};
#pragma unroll
  for (int i = 0; i < 2; i++) {
    __half2 lo(__nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(w[i] & 0xffffu), __NV_E4M3));
    __half2 hi(__nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(w[i] >> 16), __NV_E4M3));
    float2 a = __half22float2(lo), b = __half22float2(hi);
    f[4 * i] = a.x;
    f[4 * i + 1] = a.y;
    f[4 * i + 2] = b.x;
    f[4 * i + 3] = b.y;
  }
}

/** 16 e4m3 weights (one 16-byte chunk) to fp32. */
__device__ __forceinline__ void unpackFp8x16(uint4 v, float* f) {
  unpackFp8x8(v.x, v.y, f);
  unpackFp8x8(v.z, v.w, f + 8);
}

/**
 * acc[t] += scale · Σ_i w_i · x[t][16v + i] over one chunk v of 16 weights: the 16 products are summed in fp32 in
 * column order first, then multiplied by the chunk's block scale (a chunk never straddles two scale blocks:
 * blockCols is a power of two of at least 16). x: T rows of ldx bf16, 16-byte aligned.
 */
template <int T>
__device__ __forceinline__ void fp8Chunk(float (&acc)[T], uint4 wq, float scale, const bf16* x, int ldx, int v) {
  float wf[16];
  unpackFp8x16(wq, wf);
#pragma unroll
  for (int t = 0; t < T; t++) {
    const uint4* xr = (const uint4*)(x + (size_t)t * ldx) + 2 * v;
    float xf[8];
    unpack8(__ldg(xr), xf);
    float p = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) p += wf[i] * xf[i];
    unpack8(__ldg(xr + 1), xf);
#pragma unroll
    for (int i = 0; i < 8; i++) p += wf[8 + i] * xf[i];
    acc[t] = fmaf(p, scale, acc[t]);
  }
}

}  // namespace

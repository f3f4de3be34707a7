// The KV cache's element types and the conversions that the kernels writing and reading it share: bf16 (the
// default) or an FP8 E4M3 code with scale 1 (autoglm.kvCacheDtype=fp8: round to nearest even, saturating to ±448,
// as io.autoglm.safetensors.Fp8.encode). Every E4M3 value is exact in bf16 and fp32, so a kernel reading an FP8 cache
// computes what it computes over a bf16 cache holding the rounded values.
#pragma once
#include "common.cuh"
#include "fp8.cuh"  // unpackFp8x8
#include "mma_tiles.cuh"  // swz
#include <cuda_fp8.h>

namespace {

/** x as a cache element. */
template <typename KV>
__device__ __forceinline__ KV toKv(float x);
template <>
__device__ __forceinline__ bf16 toKv<bf16>(float x) { return tobf(x); }
template <>
__device__ __forceinline__ kv8 toKv<kv8>(float x) { return kv8(x); }  // cvt.rn.satfinite: NaN stays NaN (0x7f)

/** A bf16 value as a cache element: itself, or its E4M3 code. */
template <typename KV>
__device__ __forceinline__ KV bfToKv(bf16 x);
template <>
__device__ __forceinline__ bf16 bfToKv<bf16>(bf16 x) { return x; }
template <>
__device__ __forceinline__ kv8 bfToKv<kv8>(bf16 x) { return kv8(bf(x)); }

__device__ __forceinline__ float kvf(bf16 x) { return bf(x); }
__device__ __forceinline__ float kvf(kv8 x) { return float(x); }

/** The raw form of 8 consecutive cache elements: 16 bytes of bf16, 8 of E4M3. */
template <typename KV>
using KvRaw8 = std::conditional_t<sizeof(KV) == 2, uint4, uint2>;

__device__ __forceinline__ void unpackKv8(uint4 v, float* f) { unpack8(v, f); }
__device__ __forceinline__ void unpackKv8(uint2 v, float* f) { unpackFp8x8(v.x, v.y, f); }

/** 8 fp32 values into 8 consecutive cache elements at p (16-byte aligned for bf16, 8-byte for E4M3). */
__device__ __forceinline__ void storeKv8(bf16* p, const float* y) { *(uint4*)p = pack8(y); }
__device__ __forceinline__ void storeKv8(kv8* p, const float* y) {
  unsigned w[2];
#pragma unroll
  for (int i = 0; i < 2; i++) {
    unsigned lo = __nv_cvt_float2_to_fp8x2(make_float2(y[4 * i], y[4 * i + 1]), __NV_SATFINITE, __NV_E4M3);
    unsigned hi = __nv_cvt_float2_to_fp8x2(make_float2(y[4 * i + 2], y[4 * i + 3]), __NV_SATFINITE, __NV_E4M3);
    w[i] = lo | hi << 16;
  }
  *(uint2*)p = make_uint2(w[0], w[1]);
}

/**
 * The tensor-core attention kernels' E4M3 tiles: the 16-byte chunks this thread fetched (chunk tid % CH of rows
 * tid / CH + i·RPP, 8 codes each in kreg / vreg) written as 8 bf16 each into the swizzled tiles ks / vs (D channels a
 * row), where cp.async puts a bf16 cache's chunks.
 */
template <int D, int LR, int CH, int RPP>
__device__ __forceinline__ void storeKvTile(bf16* ks, bf16* vs, const uint2 (&kreg)[LR], const uint2 (&vreg)[LR],
                                            int tid) {
  int c = tid % CH;
#pragma unroll
  for (int i = 0; i < LR; i++) {
    int r = tid / CH + i * RPP;
    float f[8];
    unpackKv8(kreg[i], f);
    *(uint4*)(ks + mma::swz<D>(r, c)) = pack8(f);
    unpackKv8(vreg[i], f);
    *(uint4*)(vs + mma::swz<D>(r, c)) = pack8(f);
  }
}

}  // namespace

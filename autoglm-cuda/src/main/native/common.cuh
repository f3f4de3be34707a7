// Device helpers and the launch wrapper shared by the kernel families (norms.cu, attention.cu, gemv*.cu, moe.cu,
// sampling.cu). Everything here is internal to the kernels: the launchers in kernels.cuh are the interface.
#pragma once
#include "kernels.cuh"
#include <math_constants.h>
#include <utility>

/**
 * The kernels' process-wide settings, in one place (kernel_config.cu defines it; kernels.cuh's setters write it).
 * Set before graphs are captured: a captured graph has the launches of the settings at capture time baked in.
 */
struct KernelConfig {
  int gemvVariant = 1;         // 0 = one warp per feature (gemvK); v >= 1 = in-split GEMVs aiming at 1024·v blocks
  int gemvTc = 0;              // rows >= gemvTc (> 0, <= 8) take the tensor-core GEMV (gemv_tc.cu)
  bool pdl = false;            // programmatic dependent launch of the layer kernels (sm_90 and later)
  int attnVariant = 2;         // 1 = attentionK, 2 = the chunked attention2K
  int fp8GemvTc = 2;           // FP8 GEMVs of >= fp8GemvTc (> 0, <= 8) rows on the tensor cores (gemv_fp8_mma.cu)
  bool attnSplitHeads = true;  // one attention2K block per query head (not per KV head) when few (token, KV head)
                               // pairs would leave SMs idle
};

extern KernelConfig g_kernels;

namespace {

__device__ __forceinline__ float bf(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ bf16 tobf(float v) { return __float2bfloat16(v); }

__device__ __forceinline__ void unpack8(uint4 v, float* f) {
  const __nv_bfloat162* h = (const __nv_bfloat162*)&v;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 p = __bfloat1622float2(h[i]);
    f[2 * i] = p.x;
    f[2 * i + 1] = p.y;
  }
}

/** 8 fp32 values rounded to 8 packed bf16 (unpack8's inverse). */
__device__ __forceinline__ uint4 pack8(const float* f) {
  uint4 v;
  __nv_bfloat162* h = (__nv_bfloat162*)&v;
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __halves2bfloat162(tobf(f[2 * i]), tobf(f[2 * i + 1]));
  return v;
}

/**
 * Programmatic dependent launch (Hopper): a kernel launched with the PDL attribute may start while its predecessor
 * in the stream still runs. Every kernel here calls pdlWait() before it reads any activation or writes anything,
 * which waits until the predecessor grid has completed and its writes are visible; since every kernel waits, the
 * order of the stream holds transitively. pdlTrigger() lets the next kernel's blocks be scheduled as soon as this
 * grid's blocks have all started. Both are no-ops before sm_90 and when a kernel was launched without the attribute.
 */
__device__ __forceinline__ void pdlWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdlTrigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/** Sum over the block; every thread gets the result. sh: 33 floats of shared memory. */
__device__ float blockSum(float v, float* sh) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warpSum(v);
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < nw ? sh[lane] : 0.f;
    t = warpSum(t);
    if (lane == 0) sh[32] = t;
  }
  __syncthreads();
  return sh[32];
}

/** A rotated element from its value xd and its pair's xp: the first of a pair subtracts, the second adds. */
__device__ __forceinline__ float ropePair(float xd, float xp, bool first, int pos, float invFreq) {
  float s, c;
  sincosf((float)pos * invFreq, &s, &c);
  return first ? xd * c - xp * s : xd * c + xp * s;
}

/** Element d of a head plus its bias (bh, or none), rounded to bf16 as addBiasK rounds it. */
__device__ __forceinline__ float biased(const bf16* xh, const bf16* bh, int d) {
  return bh ? bf(tobf(bf(xh[d]) + bf(bh[d]))) : bf(xh[d]);
}

/**
 * Element d of a head after partial RoPE: pairs (2i, 2i+1) when interleaved, else (i, i + rot/2). With the head's
 * bias bh, of the head x + bias (addBiasK then ropeK, bit for bit).
 */
__device__ __forceinline__ float ropeElem(const bf16* xh, int d, int pos, const float* inv, int rot, bool interleaved,
                                          const bf16* bh = nullptr) {
  if (d >= rot) return biased(xh, bh, d);
  int half = rot >> 1, i, partner;
  bool first;
  if (interleaved) { i = d >> 1; first = (d & 1) == 0; partner = first ? d + 1 : d - 1; }
  else { first = d < half; i = first ? d : d - half; partner = first ? d + half : d - half; }
  return ropePair(biased(xh, bh, d), biased(xh, bh, partner), first, pos, inv[i]);
}

__device__ __forceinline__ uint4 loadStreaming(const uint4* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}

int threadsFor(int n) { return n >= 1024 ? 256 : n >= 256 ? 128 : 64; }

/** Row kernels on few rows get a thread per element (up to 1024) so that the loads of a row overlap. */
int rowThreads(int n, int rows) {
  if (rows > 64) return threadsFor(n);
  int t = ((n + 31) / 32) * 32;
  return t > 1024 ? 1024 : t;
}

}  // namespace

/**
 * Launches a kernel on stream s; with pdl (and PDL switched on) it carries the programmatic-stream-serialization
 * attribute, so that it may start while the kernel before it finishes (it waits for it in pdlWait()).
 */
template <typename... P, typename... A>
static void launchKs(bool pdl, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                     A&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl && g_kernels.pdl ? 1 : 0;
  cudaLaunchKernelEx(&cfg, kernel, std::forward<A>(args)...);
}

template <typename... P, typename... A>
static void launchK(bool pdl, void (*kernel)(P...), dim3 grid, dim3 block, cudaStream_t s, A&&... args) {
  launchKs(pdl, kernel, grid, block, 0, s, std::forward<A>(args)...);
}

// FP8 (E4M3, block-scaled) weights: quantization at load, dequantization to bf16 (for the cuBLAS path of large
// batches and prefill), and the grouped expert GEMV of routed experts.
#include "fp8.cuh"

namespace {

/**
 * One (br, bc) block of w per thread block: amax over the block, scale = amax / 448 (1 when amax is 0), then
 * q = e4m3(w / scale), saturated to ±448. The rule docs/fp8.md ("CUDA") states, which the Java codec matches.
 */
__global__ void quantizeFp8K(uint8_t* q, float* scales, const bf16* w, int rows, int cols, int br, int bc) {
  __shared__ float red[32];
  int r0 = blockIdx.y * br, c0 = blockIdx.x * bc;
  int nr = min(br, rows - r0), nc = min(bc, cols - c0);
  float m = 0.f;
  for (int i = threadIdx.x; i < nr * nc; i += blockDim.x) {
    int r = i / nc, c = i - r * nc;
    m = fmaxf(m, fabsf(bf(w[(size_t)(r0 + r) * cols + c0 + c])));
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) red[warp] = m;
  __syncthreads();
  if (warp == 0) {
    m = lane < (int)(blockDim.x >> 5) ? red[lane] : 0.f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) red[0] = m;
  }
  __syncthreads();
  float amax = red[0];
  float scale = amax == 0.f ? 1.f : __fdiv_rn(amax, 448.f);
  if (threadIdx.x == 0) scales[(size_t)blockIdx.y * gridDim.x + blockIdx.x] = scale;
  for (int i = threadIdx.x; i < nr * nc; i += blockDim.x) {
    int r = i / nc, c = i - r * nc;
    size_t at = (size_t)(r0 + r) * cols + c0 + c;
    q[at] = __nv_cvt_float_to_fp8(__fdiv_rn(bf(w[at]), scale), __NV_SATFINITE, __NV_E4M3);
  }
}

/** out = bf16(e4m3(q) · scale), 16 weights per thread and step (cols % 16 == 0, colShift >= 4). */
__global__ void dequantFp8x16K(bf16* out, Fp8Mat w, int cols, size_t chunks) {
  pdlTrigger();
  pdlWait();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < chunks; i += (size_t)gridDim.x * blockDim.x) {
    size_t e = i * 16;
    int r = (int)(e / cols), c = (int)(e - (size_t)r * cols);
    float f[16];
    unpackFp8x16(loadStreaming((const uint4*)w.q + i), f);
    float sc = w.s[(size_t)(r >> w.rowShift) * w.sld + (c >> w.colShift)];
    uint4 o[2];
    __nv_bfloat162* h = (__nv_bfloat162*)o;
#pragma unroll
    for (int k = 0; k < 8; k++) h[k] = __floats2bfloat162_rn(f[2 * k] * sc, f[2 * k + 1] * sc);
    ((uint4*)out)[2 * i] = o[0];
    ((uint4*)out)[2 * i + 1] = o[1];
  }
}

/** The same one element at a time, for any shape. */
__global__ void dequantFp8K(bf16* out, Fp8Mat w, int cols, size_t n) {
  pdlTrigger();
  pdlWait();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    int r = (int)(i / cols), c = (int)(i - (size_t)r * cols);
    __half_raw h = __nv_cvt_fp8_to_halfraw(w.q[i], __NV_E4M3);
    float sc = w.s[(size_t)(r >> w.rowShift) * w.sld + (c >> w.colShift)];
    out[i] = tobf(__half2float(__half(h)) * sc);
  }
}

/**
 * groupedGemvK for FP8 experts: rows [offsets[g], offsets[g+1]) of x (sorted by expert) through expert
 * expertIds[g]'s (out, in) e4m3 matrix at w.q + e·out·in, its scales at w.s + e·sStride. One warp per output feature
 * of one group; the weight row is read once per 8 rows of the group.
 */
__global__ void __launch_bounds__(256) groupedGemvFp8K(bf16* y, const bf16* x, Fp8Mat w, long long sStride,
                                                       const int* expertIds, const int* offsets, int in, int out) {
  pdlTrigger();
  pdlWait();
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (row >= out) return;
  int g = blockIdx.y;
  int first = offsets[g], last = offsets[g + 1];
  int e = expertIds[g];
  const uint4* wr = (const uint4*)(w.q + ((size_t)e * out + row) * in);
  const float* sr = w.s + (size_t)e * sStride + (size_t)(row >> w.rowShift) * w.sld;
  int nvec = in >> 4, cshift = w.colShift - 4;
  for (int r0 = first; r0 < last; r0 += 8) {
    int n = min(8, last - r0);
    float acc[8];
#pragma unroll
    for (int t = 0; t < 8; t++) acc[t] = 0.f;
    const bf16* xr = x + (size_t)r0 * in;
    for (int v = lane; v < nvec; v += 32) {
      uint4 wq = r0 == first ? loadStreaming(wr + v) : wr[v];
      float sc = __ldg(sr + (v >> cshift));
      if (n == 8) {
        fp8Chunk<8>(acc, wq, sc, xr, in, v);
      } else {
        float part[1];
        for (int t = 0; t < n; t++) {  // fewer rows than 8: one at a time, never reading past the group
          part[0] = acc[t];
          fp8Chunk<1>(part, wq, sc, xr + (size_t)t * in, in, v);
          acc[t] = part[0];
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

}  // namespace

void launchQuantizeFp8(cudaStream_t s, uint8_t* q, float* scales, const bf16* w, int rows, int cols, int br, int bc) {
  dim3 grid((cols + bc - 1) / bc, (rows + br - 1) / br);
  launchK(false, quantizeFp8K, grid, 256, s, q, scales, w, rows, cols, br, bc);
}

void launchDequantFp8(cudaStream_t s, bf16* out, Fp8Mat w, int rows, int cols) {
  size_t n = (size_t)rows * cols;
  if ((cols & 15) == 0 && w.colShift >= 4 && ((uintptr_t)w.q & 15) == 0 && ((uintptr_t)out & 15) == 0) {
    size_t chunks = n / 16;
    int blocks = (int)std::min<size_t>((chunks + 255) / 256, 132 * 16);
    launchK(true, dequantFp8x16K, blocks, 256, s, out, w, cols, chunks);
  } else {
    int blocks = (int)std::min<size_t>((n + 255) / 256, 132 * 16);
    launchK(true, dequantFp8K, blocks, 256, s, out, w, cols, n);
  }
}

bool launchGroupedGemvFp8(cudaStream_t s, bf16* y, const bf16* x, Fp8Mat w, long long sStride, const int* expertIds,
                          const int* offsets, int groups, int in, int out) {
  if ((in & 15) != 0 || (((uintptr_t)x | (uintptr_t)w.q) & 15) != 0 || w.colShift < 4) return false;
  launchK(true, groupedGemvFp8K, dim3((out + 7) / 8, groups), 256, s, y, x, w, sStride, expertIds, offsets, in, out);
  return true;
}

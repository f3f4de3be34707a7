// Kernels of the AutoGLM CUDA backend. All math in fp32, storage in bf16.
#include "kernels.cuh"
#include <math_constants.h>

namespace {

__device__ __forceinline__ float bf(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ bf16 tobf(float v) { return __float2bfloat16(v); }

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

__global__ void embeddingK(bf16* out, const bf16* table, const int* ids, int hidden) {
  const bf16* src = table + (size_t)ids[blockIdx.x] * hidden;
  bf16* dst = out + (size_t)blockIdx.x * hidden;
  if ((hidden & 7) == 0) {
    for (int i = threadIdx.x; i < hidden / 8; i += blockDim.x) ((uint4*)dst)[i] = ((const uint4*)src)[i];
  } else {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = src[i];
  }
}

__global__ void rmsNormK(bf16* out, const bf16* x, int ldx, const bf16* w, int n, float eps) {
  __shared__ float sh[33];
  const bf16* xr = x + (size_t)blockIdx.x * ldx;
  bf16* o = out + (size_t)blockIdx.x * n;
  float ss = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) { float v = bf(xr[i]); ss += v * v; }
  float r = rsqrtf(blockSum(ss, sh) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] = tobf(bf(xr[i]) * r * bf(w[i]));
}

// sum = a + b (rounded to bf16, as it is stored); out = rmsNorm(sum) * w.
__global__ void addRmsNormK(bf16* sum, bf16* out, const bf16* a, int lda, const bf16* b, int ldb, const bf16* w,
                            int n, float eps) {
  __shared__ float sh[33];
  size_t r = blockIdx.x;
  const bf16* ar = a + r * lda;
  const bf16* br = b + r * ldb;
  bf16* sr = sum + r * n;
  float ss = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    bf16 s = tobf(bf(ar[i]) + bf(br[i]));
    sr[i] = s;
    float v = bf(s);
    ss += v * v;
  }
  float inv = rsqrtf(blockSum(ss, sh) / n + eps);
  bf16* o = out + r * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] = tobf(bf(sr[i]) * inv * bf(w[i]));
}

__global__ void addK(bf16* out, const bf16* a, int lda, const bf16* b, int ldb, int n) {
  size_t r = blockIdx.x;
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[r * n + i] = tobf(bf(a[r * lda + i]) + bf(b[r * ldb + i]));
}

__global__ void addBiasK(bf16* y, int ldy, const bf16* bias, int n) {
  size_t r = blockIdx.x;
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[r * ldy + i] = tobf(bf(y[r * ldy + i]) + bf(bias[i]));
}

__global__ void siluMulK(bf16* out, const bf16* gu, int ldgu, int inter) {
  size_t r = blockIdx.y;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < inter) {
    float g = bf(gu[r * ldgu + i]);
    float u = bf(gu[r * ldgu + inter + i]);
    out[r * inter + i] = tobf(g / (1.f + expf(-g)) * u);
  }
}

/** Element d of a head after partial RoPE: pairs (2i, 2i+1) when interleaved, else (i, i + rot/2). */
__device__ __forceinline__ float ropeElem(const bf16* xh, int d, int pos, const float* inv, int rot, bool interleaved) {
  if (d >= rot) return bf(xh[d]);
  int half = rot >> 1, i, partner;
  bool first;
  if (interleaved) { i = d >> 1; first = (d & 1) == 0; partner = first ? d + 1 : d - 1; }
  else { first = d < half; i = first ? d : d - half; partner = first ? d + half : d - half; }
  float s, c;
  sincosf((float)pos * inv[i], &s, &c);
  float xd = bf(xh[d]), xp = bf(xh[partner]);
  return first ? xd * c - xp * s : xd * c + xp * s;
}

__global__ void ropeK(bf16* out, const bf16* x, int ldx, const int* pos, const float* inv, int heads, int headDim,
                      int rot, bool interleaved) {
  size_t t = blockIdx.x;
  int p = pos[t], width = heads * headDim, h = blockIdx.y;
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
    int e = h * headDim + d;
    out[t * width + e] = tobf(ropeElem(x + t * ldx + h * headDim, d, p, inv, rot, interleaved));
  }
}

__global__ void ropeWriteKvK(const bf16* k, int ldk, const bf16* v, int ldv, bf16* kc, bf16* vc, const int* slots,
                             const int* pos, const float* inv, int kvHeads, int headDim, int rot, bool interleaved,
                             bool rope) {
  size_t t = blockIdx.x;
  int p = pos[t], width = kvHeads * headDim;
  size_t base = (size_t)slots[t] * width;
  for (int e = threadIdx.x; e < width; e += blockDim.x) {
    int h = e / headDim, d = e - h * headDim;
    const bf16* kh = k + t * ldk + h * headDim;
    kc[base + e] = rope ? tobf(ropeElem(kh, d, p, inv, rot, interleaved)) : kh[d];
    vc[base + e] = v[t * ldv + e];
  }
}

/** Positions per split when the split count is fixed and the partition follows the context (graph steps). */
__device__ __forceinline__ int dynPartition(int visible, int splits) {
  return ((visible + splits - 1) / splits + 31) / 32 * 32;
}

/**
 * Paged causal attention. Block (token t, KV head, split) reads positions [split·partition, +partition) ∩
 * [0, pos[t]] of its sequence and serves the G query heads of that KV head; each warp walks every nw-th position
 * with an online softmax, lanes holding DPL channels each. With one split the block writes the output; otherwise
 * it writes (max, sum, acc) partials that attentionCombineK merges.
 */
template <int G, int DPL>
__global__ void __launch_bounds__(128) attentionK(bf16* out, float* part, const bf16* q, int ldq, const bf16* kc,
    const bf16* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int heads,
    int kvHeads, int headDim, float scale, int partition, int splits) {
  constexpr int NW = 4;
  __shared__ float sm[NW][G], sl[NW][G];
  __shared__ float sacc[NW][G][DPL * 32];
  int t = blockIdx.x, kh = blockIdx.y, sp = blockIdx.z;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int visible = pos[t] + 1;
  if (partition == 0) { // dynamic (graph steps): this token's context split evenly over the splits, 32-aligned
    partition = dynPartition(visible, splits);
    if (sp * partition >= visible) return; // unused split: the combine reads only the used ones
  }
  int start = sp * partition;
  int end = min(visible, start + partition);
  float qr[G][DPL], acc[G][DPL], m[G], l[G];
#pragma unroll
  for (int g = 0; g < G; g++) {
    m[g] = -CUDART_INF_F;
    l[g] = 0.f;
#pragma unroll
    for (int j = 0; j < DPL; j++) {
      int d = lane * DPL + j;
      qr[g][j] = d < headDim ? bf(q[(size_t)t * ldq + (kh * G + g) * headDim + d]) * scale : 0.f;
      acc[g][j] = 0.f;
    }
  }
  const int* table = tables + (size_t)tokSeq[t] * stride;
  size_t rowStride = (size_t)kvHeads * headDim;
  for (int p = start + warp; p < end; p += NW) {
    size_t slot = (size_t)table[p / blockSize] * blockSize + p % blockSize;
    const bf16* kp = kc + slot * rowStride + kh * headDim;
    const bf16* vp = vc + slot * rowStride + kh * headDim;
    float kv[DPL], vv[DPL];
#pragma unroll
    for (int j = 0; j < DPL; j++) {
      int d = lane * DPL + j;
      kv[j] = d < headDim ? bf(kp[d]) : 0.f;
      vv[j] = d < headDim ? bf(vp[d]) : 0.f;
    }
#pragma unroll
    for (int g = 0; g < G; g++) {
      float s = 0.f;
#pragma unroll
      for (int j = 0; j < DPL; j++) s += qr[g][j] * kv[j];
      s = warpSum(s);
      float mn = fmaxf(m[g], s);
      float corr = __expf(m[g] - mn);
      float pr = __expf(s - mn);
      l[g] = l[g] * corr + pr;
#pragma unroll
      for (int j = 0; j < DPL; j++) acc[g][j] = acc[g][j] * corr + pr * vv[j];
      m[g] = mn;
    }
  }
#pragma unroll
  for (int g = 0; g < G; g++) {
    if (lane == 0) { sm[warp][g] = m[g]; sl[warp][g] = l[g]; }
#pragma unroll
    for (int j = 0; j < DPL; j++) sacc[warp][g][lane * DPL + j] = acc[g][j];
  }
  __syncthreads();
  for (int e = threadIdx.x; e < G * headDim; e += blockDim.x) {
    int g = e / headDim, d = e - g * headDim;
    float M = -CUDART_INF_F;
    for (int w = 0; w < NW; w++) M = fmaxf(M, sm[w][g]);
    float L = 0.f, A = 0.f;
    if (M != -CUDART_INF_F) {
      for (int w = 0; w < NW; w++) {
        float f = __expf(sm[w][g] - M);
        L += sl[w][g] * f;
        A += sacc[w][g][d] * f;
      }
    }
    if (splits == 1) {
      out[(size_t)t * heads * headDim + (kh * G + g) * headDim + d] = tobf(A / L);
    } else {
      size_t unit = ((size_t)t * kvHeads + kh) * splits + sp;
      part[unit * G * (headDim + 2) + g * headDim + d] = A;
      if (d == 0) {
        float* ml = part + unit * G * (headDim + 2) + G * headDim;
        ml[2 * g] = M;
        ml[2 * g + 1] = L;
      }
    }
  }
}

__global__ void attentionCombineK(bf16* out, const float* part, int heads, int kvHeads, int headDim, int group,
                                  int splits, const int* pos, int dynamic) {
  int t = blockIdx.x, kh = blockIdx.y;
  int stride = splits; // partials per (token, KV head)
  if (dynamic) {
    int visible = pos[t] + 1;
    int pt = dynPartition(visible, splits);
    splits = (visible + pt - 1) / pt; // the splits that wrote partials
  }
  for (int e = threadIdx.x; e < group * headDim; e += blockDim.x) {
    int g = e / headDim, d = e - g * headDim;
    size_t unit0 = ((size_t)t * kvHeads + kh) * stride;
    size_t unitFloats = (size_t)group * (headDim + 2);
    float M = -CUDART_INF_F;
    for (int s = 0; s < splits; s++) M = fmaxf(M, part[(unit0 + s) * unitFloats + group * headDim + 2 * g]);
    float L = 0.f, A = 0.f;
    for (int s = 0; s < splits; s++) {
      const float* u = part + (unit0 + s) * unitFloats;
      float ms = u[group * headDim + 2 * g];
      if (ms == -CUDART_INF_F) continue;
      float f = __expf(ms - M);
      L += u[group * headDim + 2 * g + 1] * f;
      A += u[g * headDim + d] * f;
    }
    out[(size_t)t * heads * headDim + (kh * group + g) * headDim + d] = tobf(A / L);
  }
}

__global__ void gatherK(char* out, const char* x, int ldxBytes, const int* idx, int rowBytes) {
  const char* src = x + (size_t)idx[blockIdx.x] * ldxBytes;
  char* dst = out + (size_t)blockIdx.x * rowBytes;
  for (int i = threadIdx.x; i < rowBytes; i += blockDim.x) dst[i] = src[i];
}

__device__ __forceinline__ void unpack8(uint4 v, float* f) {
  const __nv_bfloat162* h = (const __nv_bfloat162*)&v;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 p = __bfloat1622float2(h[i]);
    f[2 * i] = p.x;
    f[2 * i + 1] = p.y;
  }
}

__device__ __forceinline__ uint4 loadStreaming(const uint4* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}

/** One warp per output feature; weights streamed once with 16-byte loads, reused across the T rows. */
template <int T, bool F32>
__global__ void __launch_bounds__(256) gemvK(void* y, int ldy, const bf16* x, int ldx, const bf16* w,
                                             const bf16* bias, int in, int out) {
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

__device__ __forceinline__ uint4 loadWeight(const uint4* p) { // streamed once: no L1 allocation; schedulable
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}

/**
 * GEMV v2: KS warps share one output feature (the in dimension split KS ways, partial sums combined through shared
 * memory), 8/KS features per 256-thread block, so that narrow outputs (k/v projections: 256 features) still spread
 * over enough blocks to keep HBM busy; each lane issues U independent 16-byte weight loads before using them.
 */
template <int T, bool F32, int KS>
__global__ void __launch_bounds__(256) gemv2K(void* y, int ldy, const bf16* x, int ldx, const bf16* w,
                                              const bf16* bias, int in, int out) {
  constexpr int U = 4;
  constexpr int RPB = 8 / KS;
  __shared__ float part[KS > 1 ? 8 : 1][T];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int rib = warp / KS, ks = warp - rib * KS;
  int row = blockIdx.x * RPB + rib;
  bool live = row < out;
  const uint4* wr = (const uint4*)(w + (size_t)(live ? row : 0) * in);
  int nvec = live ? in >> 3 : 0;
  float acc[T];
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = 0.f;
  constexpr int STEP = 32 * KS;
  int v = ks * 32 + lane;
  for (; v + (U - 1) * STEP < nvec; v += U * STEP) {
    uint4 wv[U];
#pragma unroll
    for (int u = 0; u < U; u++) wv[u] = loadWeight(wr + v + u * STEP);
#pragma unroll
    for (int u = 0; u < U; u++) {
      float wf[8], xf[8];
      unpack8(wv[u], wf);
#pragma unroll
      for (int t = 0; t < T; t++) {
        unpack8(__ldg((const uint4*)(x + (size_t)t * ldx) + v + u * STEP), xf);
#pragma unroll
        for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
      }
    }
  }
  for (; v < nvec; v += STEP) {
    float wf[8], xf[8];
    unpack8(loadWeight(wr + v), wf);
#pragma unroll
    for (int t = 0; t < T; t++) {
      unpack8(__ldg((const uint4*)(x + (size_t)t * ldx) + v), xf);
#pragma unroll
      for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
    }
  }
#pragma unroll
  for (int t = 0; t < T; t++) acc[t] = warpSum(acc[t]);
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

__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/** The host Sampler's draw: two rounds of SplitMix64 of (seed, step), as a double in [0, 1). */
__device__ double uniformDraw(long long seed, int step) {
  unsigned long long z = mix64((unsigned long long)seed + 0x9E3779B97F4A7C15ull * (unsigned long long)(step + 1LL));
  return (double)(mix64(z) >> 11) * 0x1.0p-53;
}

/** Order-preserving map of a float to an unsigned key (larger float, larger key). */
__device__ __forceinline__ unsigned floatKey(float f) {
  unsigned b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/**
 * One block per row: argmax, or temperature → top-k → top-p → inverse-CDF draw. The top-k and top-p cut-offs are
 * found by bisection on the logits' order-preserving keys (no sort); the draw walks the kept tokens in id order.
 */
/** RMSNorm of each headDim-sized group of a row; one warp per (row, head). */
__global__ void headRmsNormK(bf16* out, int ldo, const bf16* x, int ldx, const bf16* w, int heads, int headDim,
                             float eps) {
  int row = blockIdx.x / heads, head = blockIdx.x % heads;
  const bf16* xr = x + (size_t)row * ldx + head * headDim;
  bf16* orow = out + (size_t)row * ldo + head * headDim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < headDim; i += 32) { float v = bf(xr[i]); ss += v * v; }
  float inv = rsqrtf(warpSum(ss) / headDim + eps);
  for (int i = threadIdx.x; i < headDim; i += 32) orow[i] = tobf(bf(xr[i]) * inv * bf(w[i]));
}

/** Router logits in fp32: logits (rows, experts) = x (rows, hidden) · Wᵀ with W fp32; one warp per (row, expert). */
__global__ void routerLogitsK(float* logits, const bf16* x, int ldx, const float* w, int hidden, int experts) {
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

/** out[t] = Σ_j weight[t·k+j] · d[rowOf[t·k+j]], j ascending (the token's experts in ascending id). */
__global__ void moeCombineK(bf16* out, int ldo, const bf16* d, const int* rowOf, const float* weight, int k,
                            int hidden) {
  int t = blockIdx.x;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < k; j++) acc += weight[t * k + j] * bf(d[(size_t)rowOf[t * k + j] * hidden + c]);
    out[(size_t)t * ldo + c] = tobf(acc);
  }
}

__global__ void __launch_bounds__(1024) sampleK(int* outTok, const float* logits, int ldl, int vocab,
                                               const SampleParams* params) {
  __shared__ float sh[33];
  __shared__ float shv[32];
  __shared__ int shi[32];
  __shared__ float prefix[1024];
  const float* x = logits + (size_t)blockIdx.x * ldl;
  SampleParams p = params[blockIdx.x];
  int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nt = blockDim.x;
  float best = -CUDART_INF_F;
  int bi = 0x7fffffff;
  for (int i = tid; i < vocab; i += nt) {
    float v = x[i];
    if (v > best) { best = v; bi = i; }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, best, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
  }
  if (lane == 0) { shv[warp] = best; shi[warp] = bi; }
  __syncthreads();
  if (tid == 0) {
    for (int w = 1; w < nt / 32; w++) {
      if (shv[w] > shv[0] || (shv[w] == shv[0] && shi[w] < shi[0])) { shv[0] = shv[w]; shi[0] = shi[w]; }
    }
  }
  __syncthreads();
  float mx = shv[0];
  int argmax = shi[0];
  if (!(p.temperature > 0.f)) {
    if (tid == 0) outTok[blockIdx.x] = argmax;
    return;
  }
  float invT = 1.f / p.temperature;
  unsigned cut = 0;  // keep tokens whose key >= cut
  if (p.topK > 0 && p.topK < vocab) {
    unsigned lo = 0, hi = 0xffffffffu;  // count(key >= lo) >= topK holds
    while (lo < hi) {
      unsigned mid = lo + (unsigned)(((unsigned long long)hi - lo + 1) >> 1);
      float c = 0;
      for (int i = tid; i < vocab; i += nt) c += floatKey(x[i]) >= mid ? 1.f : 0.f;
      if (blockSum(c, sh) >= (float)p.topK) lo = mid; else hi = mid - 1;
    }
    cut = lo;
  }
  float z = 0;
  for (int i = tid; i < vocab; i += nt) if (floatKey(x[i]) >= cut) z += __expf((x[i] - mx) * invT);
  z = blockSum(z, sh);
  if (p.topP < 1.f) {
    float need = p.topP * z;
    unsigned lo = cut, hi = floatKey(mx);  // mass(key >= lo) >= need holds
    while (lo < hi) {
      unsigned mid = lo + (unsigned)(((unsigned long long)hi - lo + 1) >> 1);
      float mass = 0;
      for (int i = tid; i < vocab; i += nt) {
        float v = x[i];
        if (floatKey(v) >= mid) mass += __expf((v - mx) * invT);
      }
      if (blockSum(mass, sh) >= need) lo = mid; else hi = mid - 1;
    }
    cut = lo;
    z = 0;
    for (int i = tid; i < vocab; i += nt) if (floatKey(x[i]) >= cut) z += __expf((x[i] - mx) * invT);
    z = blockSum(z, sh);
  }
  float u = (float)(uniformDraw(p.seed, p.step) * z);
  int chunk = (vocab + nt - 1) / nt;
  int from = tid * chunk, to = min(vocab, from + chunk);
  float mine = 0;
  for (int i = from; i < to; i++) if (floatKey(x[i]) >= cut) mine += __expf((x[i] - mx) * invT);
  prefix[tid] = mine;
  __syncthreads();
  for (int off = 1; off < nt; off <<= 1) {  // inclusive Hillis-Steele scan
    float add = tid >= off ? prefix[tid - off] : 0.f;
    __syncthreads();
    prefix[tid] += add;
    __syncthreads();
  }
  if (tid == 0) shi[0] = argmax;  // fallback when rounding leaves u past the last prefix
  __syncthreads();
  float before = prefix[tid] - mine;
  if (u >= before && u < prefix[tid]) {
    float acc = before;
    int pick = -1;
    for (int i = from; i < to && pick < 0; i++) {
      if (floatKey(x[i]) >= cut) {
        acc += __expf((x[i] - mx) * invT);
        if (u < acc) pick = i;
      }
    }
    if (pick >= 0) shi[0] = pick;
  }
  __syncthreads();
  if (tid == 0) outTok[blockIdx.x] = shi[0];
}

__global__ void toFloatK(float* out, const bf16* x, int ldx, int cols) {
  size_t r = blockIdx.x;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) out[r * cols + i] = bf(x[r * ldx + i]);
}

int threadsFor(int n) { return n >= 1024 ? 256 : n >= 256 ? 128 : 64; }

/** Row kernels on few rows get a thread per element (up to 1024) so that the loads of a row overlap. */
int rowThreads(int n, int rows) {
  if (rows > 64) return threadsFor(n);
  int t = ((n + 31) / 32) * 32;
  return t > 1024 ? 1024 : t;
}

}  // namespace

void launchEmbedding(cudaStream_t s, bf16* out, const bf16* table, const int* ids, int rows, int hidden) {
  embeddingK<<<rows, 128, 0, s>>>(out, table, ids, hidden);
}
void launchRmsNorm(cudaStream_t s, bf16* out, const bf16* x, int ldx, const bf16* w, int rows, int n, float eps) {
  rmsNormK<<<rows, rowThreads(n, rows), 0, s>>>(out, x, ldx, w, n, eps);
}
void launchAddRmsNorm(cudaStream_t s, bf16* sum, bf16* out, const bf16* a, int lda, const bf16* b, int ldb,
                      const bf16* w, int rows, int n, float eps) {
  addRmsNormK<<<rows, rowThreads(n, rows), 0, s>>>(sum, out, a, lda, b, ldb, w, n, eps);
}
void launchAdd(cudaStream_t s, bf16* out, const bf16* a, int lda, const bf16* b, int ldb, int rows, int n) {
  addK<<<rows, rowThreads(n, rows), 0, s>>>(out, a, lda, b, ldb, n);
}
void launchAddBias(cudaStream_t s, bf16* y, int ldy, const bf16* bias, int rows, int n) {
  addBiasK<<<rows, rowThreads(n, rows), 0, s>>>(y, ldy, bias, n);
}
void launchSiluMul(cudaStream_t s, bf16* out, const bf16* gu, int ldgu, int rows, int inter) {
  siluMulK<<<dim3((inter + 255) / 256, rows), 256, 0, s>>>(out, gu, ldgu, inter);
}
void launchRope(cudaStream_t s, bf16* out, const bf16* x, int ldx, const int* pos, const float* inv, int rows,
                int heads, int headDim, int rot, bool interleaved) {
  ropeK<<<dim3(rows, heads), 128, 0, s>>>(out, x, ldx, pos, inv, heads, headDim, rot, interleaved);
}
void launchRopeWriteKv(cudaStream_t s, const bf16* k, int ldk, const bf16* v, int ldv, bf16* kc, bf16* vc,
                       const int* slots, const int* pos, const float* inv, int rows, int kvHeads, int headDim,
                       int rot, bool interleaved, bool rope) {
  ropeWriteKvK<<<rows, threadsFor(kvHeads * headDim), 0, s>>>(k, ldk, v, ldv, kc, vc, slots, pos, inv, kvHeads,
                                                               headDim, rot, interleaved, rope);
}

template <int G, int DPL>
static void attn(cudaStream_t s, bf16* out, float* part, const bf16* q, int ldq, const bf16* kc, const bf16* vc,
                 const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int rows,
                 int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  dim3 grid(rows, kvHeads, splits);
  attentionK<G, DPL><<<grid, 128, 0, s>>>(out, part, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, heads,
                                          kvHeads, headDim, scale, partition, splits);
  if (splits > 1) {
    attentionCombineK<<<dim3(rows, kvHeads), 128, 0, s>>>(out, part, heads, kvHeads, headDim, G, splits, pos,
                                                          partition == 0);
  }
}

#define ATTN_CASE(G, DPL) \
  if (group == G && dpl == DPL) { \
    attn<G, DPL>(s, out, part, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads, kvHeads, \
                 headDim, scale, partition, splits); \
    return true; \
  }

bool launchAttention(cudaStream_t s, bf16* out, float* part, const bf16* q, int ldq, const bf16* kc, const bf16* vc,
                     const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int rows,
                     int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  int group = heads / kvHeads;
  int dpl = (headDim + 31) / 32;
  if (dpl == 3) dpl = 4;
  if (headDim > 128) return false;
  ATTN_CASE(1, 1) ATTN_CASE(1, 2) ATTN_CASE(1, 4)
  ATTN_CASE(2, 1) ATTN_CASE(2, 2) ATTN_CASE(2, 4)
  ATTN_CASE(4, 1) ATTN_CASE(4, 2) ATTN_CASE(4, 4)
  ATTN_CASE(8, 1) ATTN_CASE(8, 2) ATTN_CASE(8, 4)
  ATTN_CASE(12, 4) ATTN_CASE(16, 2) ATTN_CASE(16, 4)
  return false;
}

void launchGather(cudaStream_t s, void* out, const void* x, int ldx, const int* idx, int rows, int cols,
                  int elemBytes) {
  gatherK<<<rows, 128, 0, s>>>((char*)out, (const char*)x, ldx * elemBytes, idx, cols * elemBytes);
}

#define GEMV_CASE(T) \
  case T: \
    if (f32Out) gemvK<T, true><<<blocks, 256, 0, s>>>(y, ldy, x, ldx, w, bias, in, out); \
    else gemvK<T, false><<<blocks, 256, 0, s>>>(y, ldy, x, ldx, w, bias, in, out); \
    return true;

static int gemvVariant = 2;

void setGemvVariant(int v) { gemvVariant = v; }

template <int T, int KS>
static void gemv2(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                  const bf16* bias, int in, int out) {
  int blocks = (out + 8 / KS - 1) / (8 / KS);
  if (f32Out) gemv2K<T, true, KS><<<blocks, 256, 0, s>>>(y, ldy, x, ldx, w, bias, in, out);
  else gemv2K<T, false, KS><<<blocks, 256, 0, s>>>(y, ldy, x, ldx, w, bias, in, out);
}

template <int T>
static void gemv2Split(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                       const bf16* bias, int in, int out) {
  // Smallest in-split that gives `wave` blocks of 256 threads or more (1024 ≈ one wave: 8 per SM on 132 SMs).
  long wave = 1024L * gemvVariant;
  long feat = (long)out;
  if (feat >= wave * 8) gemv2<T, 1>(s, y, ldy, f32Out, x, ldx, w, bias, in, out);
  else if (feat >= wave * 4) gemv2<T, 2>(s, y, ldy, f32Out, x, ldx, w, bias, in, out);
  else if (feat >= wave * 2) gemv2<T, 4>(s, y, ldy, f32Out, x, ldx, w, bias, in, out);
  else gemv2<T, 8>(s, y, ldy, f32Out, x, ldx, w, bias, in, out);
}

#define GEMV2_CASE(T) \
  case T: gemv2Split<T>(s, y, ldy, f32Out, x, ldx, w, bias, in, out); return true;

bool launchGemv(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                const bf16* bias, int rows, int in, int out) {
  if ((in & 7) != 0 || (ldx & 7) != 0 || (((uintptr_t)x | (uintptr_t)w) & 15) != 0) return false;
  if (gemvVariant != 0) {
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

void launchSample(cudaStream_t s, int* outTok, const float* logits, int ldl, int vocab, const SampleParams* p,
                  int rows) {
  sampleK<<<rows, 1024, 0, s>>>(outTok, logits, ldl, vocab, p);
}

void launchToFloat(cudaStream_t s, float* out, const bf16* x, int ldx, int rows, int cols) {
  toFloatK<<<rows, 128, 0, s>>>(out, x, ldx, cols);
}

void launchHeadRmsNorm(cudaStream_t s, bf16* out, int ldo, const bf16* x, int ldx, const bf16* w, int rows,
                       int heads, int headDim, float eps) {
  headRmsNormK<<<rows * heads, 32, 0, s>>>(out, ldo, x, ldx, w, heads, headDim, eps);
}

void launchRouterLogits(cudaStream_t s, float* logits, const bf16* x, int ldx, const float* w, int rows, int hidden,
                        int experts) {
  routerLogitsK<<<dim3((experts + 7) / 8, rows), 256, 0, s>>>(logits, x, ldx, w, hidden, experts);
}

bool launchGroupedGemv(cudaStream_t s, bf16* y, const bf16* x, const bf16* w, const int* expertIds,
                       const int* offsets, int groups, int in, int out) {
  if ((in & 7) != 0 || (((uintptr_t)x | (uintptr_t)w) & 15) != 0) return false;
  groupedGemvK<<<dim3((out + 7) / 8, groups), 256, 0, s>>>(y, x, w, expertIds, offsets, in, out);
  return true;
}

void launchMoeCombine(cudaStream_t s, bf16* out, int ldo, const bf16* d, const int* rowOf, const float* weight,
                      int rows, int k, int hidden) {
  moeCombineK<<<rows, 256, 0, s>>>(out, ldo, d, rowOf, weight, k, hidden);
}

// Row kernels: embedding, RMSNorm (plain, fused with the residual add, per head), add, bias, SiLU·mul, RoPE (with
// the KV-cache write, and of q, k and v in one launch), row gather and the bf16 -> fp32 copy.
#include "common.cuh"
#include "kv_cache.cuh"

namespace {

/** out[t] = table[ids[t] - firstRow], or a zero row when that is outside the table's rows (a vocab split). */
__global__ void embeddingK(bf16* out, const bf16* table, const int* ids, int hidden, int firstRow, int tableRows) {
  pdlTrigger();
  pdlWait();
  int row = ids[blockIdx.x] - firstRow;
  bf16* dst = out + (size_t)blockIdx.x * hidden;
  if (row < 0 || row >= tableRows) {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = __float2bfloat16(0.f);
    return;
  }
  const bf16* src = table + (size_t)row * hidden;
  if ((hidden & 7) == 0) {
    for (int i = threadIdx.x; i < hidden / 8; i += blockDim.x) ((uint4*)dst)[i] = ((const uint4*)src)[i];
  } else {
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = src[i];
  }
}

__global__ void rmsNormK(bf16* out, const bf16* x, int ldx, const bf16* w, int n, float eps) {
  pdlTrigger();
  pdlWait();
  __shared__ float sh[33];
  const bf16* xr = x + (size_t)blockIdx.x * ldx;
  bf16* o = out + (size_t)blockIdx.x * n;
  float ss = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) { float v = bf(xr[i]); ss += v * v; }
  float r = rsqrtf(blockSum(ss, sh) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] = tobf(bf(xr[i]) * r * bf(w[i]));
}

// sum = a + b (rounded to bf16, as it is stored); out = rmsNorm(sum) * w. A row of up to 8 elements per thread stays
// in registers between the two passes (and its weights are read before pdlWait); longer rows are re-read.
__global__ void addRmsNormK(bf16* sum, bf16* out, const bf16* a, int lda, const bf16* b, int ldb, const bf16* w,
                            int n, float eps) {
  pdlTrigger();
  constexpr int R = 8;
  __shared__ float sh[33];
  bool cached = n <= R * (int)blockDim.x;
  float wr[R];
  if (cached) {
#pragma unroll
    for (int k = 0; k < R; k++) {
      int i = threadIdx.x + k * blockDim.x;
      wr[k] = i < n ? bf(w[i]) : 0.f;
    }
  }
  pdlWait();
  size_t r = blockIdx.x;
  const bf16* ar = a + r * lda;
  const bf16* br = b + r * ldb;
  bf16* sr = sum + r * n;
  bf16* o = out + r * n;
  float ss = 0;
  if (cached) {
    float v[R];
#pragma unroll
    for (int k = 0; k < R; k++) {
      int i = threadIdx.x + k * blockDim.x;
      v[k] = 0.f;
      if (i < n) {
        bf16 sb = tobf(bf(ar[i]) + bf(br[i]));
        sr[i] = sb;
        v[k] = bf(sb);
        ss += v[k] * v[k];
      }
    }
    float inv = rsqrtf(blockSum(ss, sh) / n + eps);
#pragma unroll
    for (int k = 0; k < R; k++) {
      int i = threadIdx.x + k * blockDim.x;
      if (i < n) o[i] = tobf(v[k] * inv * wr[k]);
    }
    return;
  }
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    bf16 sb = tobf(bf(ar[i]) + bf(br[i]));
    sr[i] = sb;
    float v = bf(sb);
    ss += v * v;
  }
  float inv = rsqrtf(blockSum(ss, sh) / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] = tobf(bf(sr[i]) * inv * bf(w[i]));
}

__global__ void addK(bf16* out, const bf16* a, int lda, const bf16* b, int ldb, int n) {
  pdlTrigger();
  pdlWait();
  size_t r = blockIdx.x;
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[r * n + i] = tobf(bf(a[r * lda + i]) + bf(b[r * ldb + i]));
}

__global__ void addBiasK(bf16* y, int ldy, const bf16* bias, int n) {
  pdlTrigger();
  pdlWait();
  size_t r = blockIdx.x;
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[r * ldy + i] = tobf(bf(y[r * ldy + i]) + bf(bias[i]));
}

__global__ void siluMulK(bf16* out, const bf16* gu, int ldgu, int inter) {
  pdlTrigger();
  pdlWait();
  size_t r = blockIdx.y;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < inter) {
    float g = bf(gu[r * ldgu + i]);
    float u = bf(gu[r * ldgu + inter + i]);
    out[r * inter + i] = tobf(g / (1.f + expf(-g)) * u);
  }
}

__global__ void ropeK(bf16* out, const bf16* x, int ldx, const int* pos, const float* inv, int heads, int headDim,
                      int rot, bool interleaved) {
  pdlTrigger();
  pdlWait();
  size_t t = blockIdx.x;
  int p = pos[t], width = heads * headDim, h = blockIdx.y;
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
    int e = h * headDim + d;
    out[t * width + e] = tobf(ropeElem(x + t * ldx + h * headDim, d, p, inv, rot, interleaved));
  }
}

template <typename KV>
__global__ void ropeWriteKvK(const bf16* k, int ldk, const bf16* v, int ldv, KV* kc, KV* vc, const int* slots,
                             const int* pos, const float* inv, int kvHeads, int headDim, int rot, bool interleaved,
                             bool rope) {
  pdlTrigger();
  pdlWait();
  size_t t = blockIdx.x;
  int p = pos[t], width = kvHeads * headDim;
  size_t base = (size_t)slots[t] * width;
  for (int e = threadIdx.x; e < width; e += blockDim.x) {
    int h = e / headDim, d = e - h * headDim;
    const bf16* kh = k + t * ldk + h * headDim;
    kc[base + e] = rope ? toKv<KV>(ropeElem(kh, d, p, inv, rot, interleaved)) : bfToKv<KV>(kh[d]);
    vc[base + e] = bfToKv<KV>(v[t * ldv + e]);
  }
}

__global__ void gatherK(char* out, const char* x, int ldxBytes, const int* idx, int rowBytes) {
  pdlTrigger();
  pdlWait();
  const char* src = x + (size_t)idx[blockIdx.x] * ldxBytes;
  char* dst = out + (size_t)blockIdx.x * rowBytes;
  for (int i = threadIdx.x; i < rowBytes; i += blockDim.x) dst[i] = src[i];
}

/**
 * rope(q) into qOut (rows, heads·headDim), and rope(k) and v into their KV-cache slots: ropeK and ropeWriteKvK in one
 * launch. Blocks (token, chunk of 256 of the heads·headDim + kvHeads·headDim elements).
 */
template <typename KV>
__global__ void ropeQkvK(bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v, int ldv,
                         KV* kc, KV* vc, const int* slots, const int* pos, const float* inv, int heads,
                         int kvHeads, int headDim, int rot, bool interleaved, const bf16* bias) {
  pdlTrigger();
  pdlWait();
  size_t t = blockIdx.x;
  int e = blockIdx.y * blockDim.x + threadIdx.x;
  int qWidth = heads * headDim, kvWidth = kvHeads * headDim;
  if (e >= qWidth + kvWidth) return;
  int p = pos[t];
  if (e < qWidth) {
    int h = e / headDim, d = e - h * headDim;
    const bf16* bh = bias ? bias + h * headDim : nullptr;
    qOut[t * qWidth + e] = tobf(ropeElem(q + t * ldq + h * headDim, d, p, inv, rot, interleaved, bh));
  } else {
    e -= qWidth;
    int h = e / headDim, d = e - h * headDim;
    size_t base = (size_t)slots[t] * kvWidth;
    const bf16* bh = bias ? bias + qWidth + h * headDim : nullptr;
    kc[base + e] = toKv<KV>(ropeElem(k + t * ldk + h * headDim, d, p, inv, rot, interleaved, bh));
    if constexpr (sizeof(KV) == 2) {
      vc[base + e] = bias ? tobf(bf(v[t * ldv + e]) + bf(bias[qWidth + kvWidth + e])) : v[t * ldv + e];
    } else {  // the biased v rounded to bf16 first, as ropeQkvVecK's addBias8 rounds it
      vc[base + e] = bfToKv<KV>(bias ? tobf(bf(v[t * ldv + e]) + bf(bias[qWidth + kvWidth + e])) : v[t * ldv + e]);
    }
  }
}

/** RMSNorm of each headDim-sized group of a row; one warp per (row, head). */
__global__ void headRmsNormK(bf16* out, int ldo, const bf16* x, int ldx, const bf16* w, int heads, int headDim,
                             float eps) {
  pdlTrigger();
  pdlWait();
  int row = blockIdx.x / heads, head = blockIdx.x % heads;
  const bf16* xr = x + (size_t)row * ldx + head * headDim;
  bf16* orow = out + (size_t)row * ldo + head * headDim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < headDim; i += 32) { float v = bf(xr[i]); ss += v * v; }
  float inv = rsqrtf(warpSum(ss) / headDim + eps);
  for (int i = threadIdx.x; i < headDim; i += 32) orow[i] = tobf(bf(xr[i]) * inv * bf(w[i]));
}

__global__ void toFloatK(float* out, const bf16* x, int ldx, int cols) {
  pdlTrigger();
  pdlWait();
  size_t r = blockIdx.x;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) out[r * cols + i] = bf(x[r * ldx + i]);
}

// ---- The row kernels of prefill-sized steps (more than VEC_MIN_ROWS rows): the same arithmetic, in the same order,
// as the kernels above (bit for bit), with 16-byte loads and stores. ----

/** Whether p is 16-byte aligned. */
__host__ __device__ __forceinline__ bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

/** Rows above which the row kernels take their 16-byte variants (decode steps keep the kernels above). */
constexpr int VEC_MIN_ROWS = 64;
/** The widest row addRmsNormVecK stages in shared memory (bf16 elements). */
constexpr int VEC_MAX_NORM_N = 16384;
/** Whether the 16-byte variants are on (the self-test runs both at one shape and compares them bit for bit). */
bool g_rowVec = true;

bool vecNorm(int rows, int n, int lda, int ldb) {
  return g_rowVec && rows > VEC_MIN_ROWS && n % 8 == 0 && n <= VEC_MAX_NORM_N && lda % 8 == 0 && ldb % 8 == 0;
}
bool vecSilu(int rows, int inter, int ldgu) {
  return g_rowVec && rows > VEC_MIN_ROWS && inter % 8 == 0 && ldgu % 8 == 0;
}
bool vecRope(int rows, int headDim, int rot, bool interleaved, int ldq, int ldk, int ldv) {
  return g_rowVec && rows > VEC_MIN_ROWS && interleaved && rot % 2 == 0 && rot <= headDim && headDim % 8 == 0 &&
         ldq % 8 == 0 && ldk % 8 == 0 && ldv % 8 == 0;
}

/** x[i] + bias[i], each rounded to bf16 as addBiasK rounds it (8 elements, bias 16-byte aligned). */
__device__ __forceinline__ void addBias8(float* x, const bf16* bias) {
  float b[8];
  unpack8(*(const uint4*)bias, b);
#pragma unroll
  for (int i = 0; i < 8; i++) x[i] = bf(tobf(x[i] + b[i]));
}

/** siluMulK on 8 elements per thread: grid (chunks of 8·blockDim of the inter elements, rows); inter % 8 == 0. */
__global__ void siluMulVecK(bf16* out, const bf16* gu, int ldgu, int inter) {
  pdlTrigger();
  pdlWait();
  size_t r = blockIdx.y;
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= inter / 8) return;
  float g[8], u[8], o[8];
  unpack8(((const uint4*)(gu + r * ldgu))[c], g);
  unpack8(((const uint4*)(gu + r * ldgu + inter))[c], u);
#pragma unroll
  for (int k = 0; k < 8; k++) o[k] = g[k] / (1.f + expf(-g[k])) * u[k];
  ((uint4*)(out + r * inter))[c] = pack8(o);
}

/**
 * addRmsNormK with 16-byte loads and stores: the rounded sum row is staged in shared memory (n bf16), and each
 * thread squares and adds its elements threadIdx.x + k·blockDim.x in the order addRmsNormK does, so the sum of
 * squares, the scale and every output are bit for bit addRmsNormK's at the same blockDim. n % 8 == 0.
 */
__global__ void addRmsNormVecK(bf16* sum, bf16* out, const bf16* a, int lda, const bf16* b, int ldb, const bf16* w,
                               int n, float eps) {
  pdlTrigger();
  extern __shared__ uint4 rowSh4[];  // uint4: 16-byte aligned
  bf16* rowSh = (bf16*)rowSh4;
  __shared__ float sh[33];
  pdlWait();
  size_t r = blockIdx.x;
  const uint4* ar = (const uint4*)(a + r * lda);
  const uint4* br = (const uint4*)(b + r * ldb);
  uint4* sr = (uint4*)(sum + r * n);
  int chunks = n / 8;
  for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
    float x[8], y[8], s[8];
    unpack8(ar[c], x);
    unpack8(br[c], y);
#pragma unroll
    for (int k = 0; k < 8; k++) s[k] = x[k] + y[k];
    uint4 packed = pack8(s);
    sr[c] = packed;
    ((uint4*)rowSh)[c] = packed;
  }
  __syncthreads();
  float ss = 0;
  // addRmsNormK's ss += v * v compiles to fma.rn: written out, so that no unrolling here splits it into mul + add
  for (int i = threadIdx.x; i < n; i += blockDim.x) { float v = bf(rowSh[i]); ss = __fmaf_rn(v, v, ss); }
  float inv = rsqrtf(blockSum(ss, sh) / n + eps);
  uint4* o = (uint4*)(out + r * n);
  for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
    float v[8], wf[8], y[8];
    unpack8(((const uint4*)rowSh)[c], v);
    unpack8(((const uint4*)w)[c], wf);
#pragma unroll
    for (int k = 0; k < 8; k++) y[k] = v[k] * inv * wf[k];
    o[c] = pack8(y);
  }
}

/**
 * ropePair with its sine and cosine given, in the operations ropeQkvK compiles it to (its PTX: fma.rn(xd, c, ±(xp·s))
 * with xp·s rounded): written out, so that the compiler cannot contract the other product here.
 */
__device__ __forceinline__ float ropePairCs(float xd, float xp, bool first, float s, float c) {
  float p = __fmul_rn(xp, s);
  return __fmaf_rn(xd, c, first ? -p : p);
}

/**
 * ropeQkvK for interleaved RoPE with 16-byte loads and stores: a thread per 8 elements (4 pairs, one sincosf per
 * pair) of a row's heads·headDim q and kvHeads·headDim k/v elements; grid over rows × chunks. headDim % 8 == 0.
 */
template <typename KV>
__global__ void ropeQkvVecK(bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v, int ldv,
                            KV* kc, KV* vc, const int* slots, const int* pos, const float* inv, int rows,
                            int heads, int kvHeads, int headDim, int rot, const bf16* bias) {
  pdlTrigger();
  pdlWait();
  int qChunks = heads * headDim / 8, chunks = qChunks + kvHeads * headDim / 8;
  long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= (long long)rows * chunks) return;
  size_t t = (size_t)(g / chunks);
  int c = (int)(g - (long long)t * chunks);
  bool isQ = c < qChunks;
  int e = (isQ ? c : c - qChunks) * 8;  // element in q's or k's row
  int d0 = e % headDim;
  const bf16* src = isQ ? q + t * ldq + e : k + t * ldk + e;
  float x[8], y[8];
  unpack8(*(const uint4*)src, x);
  if (bias) addBias8(x, bias + (isQ ? 0 : heads * headDim) + e);
  float p = (float)pos[t];
#pragma unroll
  for (int j = 0; j < 4; j++) {
    int d = d0 + 2 * j;
    if (d < rot) {
      float s, co;
      sincosf(p * inv[d >> 1], &s, &co);
      y[2 * j] = ropePairCs(x[2 * j], x[2 * j + 1], true, s, co);
      y[2 * j + 1] = ropePairCs(x[2 * j + 1], x[2 * j], false, s, co);
    } else {
      y[2 * j] = x[2 * j];
      y[2 * j + 1] = x[2 * j + 1];
    }
  }
  if (isQ) {
    *(uint4*)(qOut + t * (size_t)(heads * headDim) + e) = pack8(y);
  } else {
    size_t base = (size_t)slots[t] * (kvHeads * headDim) + e;
    uint4 vv;
    if constexpr (sizeof(KV) == 2) {
      *(uint4*)(kc + base) = pack8(y);
      vv = *(const uint4*)(v + t * ldv + e);
      if (bias) {
        float f[8];
        unpack8(vv, f);
        addBias8(f, bias + (heads + kvHeads) * headDim + e);
        vv = pack8(f);
      }
      *(uint4*)(vc + base) = vv;
    } else {
      storeKv8(kc + base, y);
      vv = *(const uint4*)(v + t * ldv + e);
      float f[8];
      unpack8(vv, f);
      if (bias) addBias8(f, bias + (heads + kvHeads) * headDim + e);
      storeKv8(vc + base, f);
    }
  }
}

}  // namespace

void launchEmbedding(cudaStream_t s, bf16* out, const bf16* table, const int* ids, int rows, int hidden,
                     int firstRow, int tableRows) {
  launchK(false, embeddingK, rows, 128, s, out, table, ids, hidden, firstRow, tableRows);
}
void launchRmsNorm(cudaStream_t s, bf16* out, const bf16* x, int ldx, const bf16* w, int rows, int n, float eps) {
  launchK(true, rmsNormK, rows, rowThreads(n, rows), s, out, x, ldx, w, n, eps);
}
void launchAddRmsNorm(cudaStream_t s, bf16* sum, bf16* out, const bf16* a, int lda, const bf16* b, int ldb,
                      const bf16* w, int rows, int n, float eps) {
  int threads = rowThreads(n, rows);
  if (vecNorm(rows, n, lda, ldb) && aligned16(sum) && aligned16(out) && aligned16(a) && aligned16(b) &&
      aligned16(w)) {
    launchKs(true, addRmsNormVecK, rows, threads, (size_t)n * sizeof(bf16), s, sum, out, a, lda, b, ldb, w, n, eps);
    return;
  }
  launchK(true, addRmsNormK, rows, threads, s, sum, out, a, lda, b, ldb, w, n, eps);
}
void launchAdd(cudaStream_t s, bf16* out, const bf16* a, int lda, const bf16* b, int ldb, int rows, int n) {
  launchK(true, addK, rows, rowThreads(n, rows), s, out, a, lda, b, ldb, n);
}
void launchAddBias(cudaStream_t s, bf16* y, int ldy, const bf16* bias, int rows, int n) {
  launchK(true, addBiasK, rows, rowThreads(n, rows), s, y, ldy, bias, n);
}
void launchSiluMul(cudaStream_t s, bf16* out, const bf16* gu, int ldgu, int rows, int inter) {
  if (vecSilu(rows, inter, ldgu) && aligned16(out) && aligned16(gu)) {
    launchK(true, siluMulVecK, dim3((inter / 8 + 127) / 128, rows), 128, s, out, gu, ldgu, inter);
    return;
  }
  launchK(true, siluMulK, dim3((inter + 255) / 256, rows), 256, s, out, gu, ldgu, inter);
}
void launchRope(cudaStream_t s, bf16* out, const bf16* x, int ldx, const int* pos, const float* inv, int rows,
                int heads, int headDim, int rot, bool interleaved) {
  launchK(true, ropeK, dim3(rows, heads), 128, s, out, x, ldx, pos, inv, heads, headDim, rot, interleaved);
}
template <typename KV>
static void ropeWriteKvOf(cudaStream_t s, const bf16* k, int ldk, const bf16* v, int ldv, KV* kc, KV* vc,
                          const int* slots, const int* pos, const float* inv, int rows, int kvHeads, int headDim,
                          int rot, bool interleaved, bool rope) {
  launchK(true, ropeWriteKvK<KV>, rows, threadsFor(kvHeads * headDim), s, k, ldk, v, ldv, kc, vc, slots, pos, inv,
          kvHeads, headDim, rot, interleaved, rope);
}
void launchRopeWriteKv(cudaStream_t s, const bf16* k, int ldk, const bf16* v, int ldv, bf16* kc, bf16* vc,
                       const int* slots, const int* pos, const float* inv, int rows, int kvHeads, int headDim,
                       int rot, bool interleaved, bool rope) {
  ropeWriteKvOf(s, k, ldk, v, ldv, kc, vc, slots, pos, inv, rows, kvHeads, headDim, rot, interleaved, rope);
}
void launchRopeWriteKv(cudaStream_t s, const bf16* k, int ldk, const bf16* v, int ldv, kv8* kc, kv8* vc,
                       const int* slots, const int* pos, const float* inv, int rows, int kvHeads, int headDim,
                       int rot, bool interleaved, bool rope) {
  ropeWriteKvOf(s, k, ldk, v, ldv, kc, vc, slots, pos, inv, rows, kvHeads, headDim, rot, interleaved, rope);
}

void launchGather(cudaStream_t s, void* out, const void* x, int ldx, const int* idx, int rows, int cols,
                  int elemBytes) {
  launchK(false, gatherK, rows, 128, s, (char*)out, (const char*)x, ldx * elemBytes, idx, cols * elemBytes);
}

template <typename KV>
static void ropeQkvOf(cudaStream_t s, bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v,
                      int ldv, KV* kc, KV* vc, const int* slots, const int* pos, const float* inv, int rows, int heads,
                      int kvHeads, int headDim, int rot, bool interleaved, const bf16* bias) {
  int total = (heads + kvHeads) * headDim;
  if (vecRope(rows, headDim, rot, interleaved, ldq, ldk, ldv) && aligned16(qOut) && aligned16(q) && aligned16(k) &&
      aligned16(v) && aligned16(kc) && aligned16(vc) && (bias == nullptr || aligned16(bias))) {
    long long threads = (long long)rows * (total / 8);
    launchK(true, ropeQkvVecK<KV>, (unsigned)((threads + 255) / 256), 256, s, qOut, q, ldq, k, ldk, v, ldv, kc, vc,
            slots, pos, inv, rows, heads, kvHeads, headDim, rot, bias);
    return;
  }
  launchK(true, ropeQkvK<KV>, dim3(rows, (total + 255) / 256), 256, s, qOut, q, ldq, k, ldk, v, ldv, kc, vc, slots,
          pos, inv, heads, kvHeads, headDim, rot, interleaved, bias);
}
void launchRopeQkv(cudaStream_t s, bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v, int ldv,
                   bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int rows, int heads,
                   int kvHeads, int headDim, int rot, bool interleaved, const bf16* bias) {
  ropeQkvOf(s, qOut, q, ldq, k, ldk, v, ldv, kc, vc, slots, pos, inv, rows, heads, kvHeads, headDim, rot, interleaved,
            bias);
}
void launchRopeQkv(cudaStream_t s, bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v, int ldv,
                   kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int rows, int heads,
                   int kvHeads, int headDim, int rot, bool interleaved, const bf16* bias) {
  ropeQkvOf(s, qOut, q, ldq, k, ldk, v, ldv, kc, vc, slots, pos, inv, rows, heads, kvHeads, headDim, rot, interleaved,
            bias);
}

void launchToFloat(cudaStream_t s, float* out, const bf16* x, int ldx, int rows, int cols) {
  launchK(false, toFloatK, rows, 128, s, out, x, ldx, cols);
}

void launchHeadRmsNorm(cudaStream_t s, bf16* out, int ldo, const bf16* x, int ldx, const bf16* w, int rows,
                       int heads, int headDim, float eps) {
  launchK(true, headRmsNormK, rows * heads, 32, s, out, ldo, x, ldx, w, heads, headDim, eps);
}

void setRowKernelsVectorized(bool on) { g_rowVec = on; }

int rowKernelsVectorized(int rows, int n, int inter, int heads, int kvHeads, int headDim, int rot, bool interleaved) {
  int qkv = (heads + 2 * kvHeads) * headDim;
  return (vecNorm(rows, n, n, n) ? 1 : 0) | (vecSilu(rows, inter, 2 * inter) ? 2 : 0) |
         (vecRope(rows, headDim, rot, interleaved, qkv, qkv, qkv) ? 4 : 0);
}

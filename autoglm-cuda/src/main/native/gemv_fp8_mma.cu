// The small-batch FP8 GEMVs on the tensor cores (steps of g_kernels.fp8GemvTc rows or more, cuda.fp8GemvTc): plain (+ bias, bf16 or fp32 out), gate_up
// with SiLU·mul, QKV with bias, RoPE and the KV write — the same three as gemv_fp8.cu, the same outputs up to the
// order of the fp32 sums. Why: the scalar FP8 GEMVs spend 1.5 conversions per weight (e4m3 → f16 → f32) and
// reach ~65% of the HBM rate; here a warp streams a 16-row × 128-column tile per step, turns each e4m3 pair into a
// bf16 pair with four integer operations and one bf16 multiply (exact, subnormals included), and lets mma.sync
// (m16n8k16, fp32 accumulation) do the products with the T <= 8 rows of x as the 8 MMA columns — the x rows need
// no conversion at all, and 8 rows cost the weight stream of one. (On the H200, 2026-12-04, docs/benchmarks.md: flat
// from 1 to 8 rows at 2.6–2.8 TB/s on gate_up and down; at 1 row the scalar GEMVs are faster on qkv and gate_up,
// hence cuda.fp8GemvTc 2. A variant streaming the weights through a per-warp cp.async ring ran at half the rate.)
//
// A warp's tile: lane (g = lane / 4, q = lane % 4) loads 32 weights of row g and of row g + 8 at columns
// 128·step + 32q .. + 32, and the 32 x values of x row min(g, T − 1) at the same columns. MMA j (0..7) gives lane q
// the k of its A fragment (2q, 2q + 1 | 2q + 8, 2q + 9) as the actual columns 32q + 4j + (0, 1 | 2, 3): every lane
// with the same q reads the same columns, so A and B agree, and the 8 MMAs cover the 128 columns once. A step lies
// in one 128-column scale block (colShift >= 7): its 8 products are summed in fp32, then scaled per row into the
// accumulators. The in-split KS (warps per tile, interleaved steps) depends on the row count only.
#include "gemv.cuh"
#include "fp8.cuh"
#include "kv_cache.cuh"
#include "mma_tiles.cuh"

namespace {

/** e4m3 bytes (0, 1) (sel 0x1404) or (2, 3) (sel 0x3424) of w as a bf16 pair, exactly: magnitude bits moved to the
 *  bf16 fields, then × 2^120 (the exponent-bias difference) in bf16, which keeps e4m3 subnormals exact. */
__device__ __forceinline__ unsigned e4m3PairBf16(unsigned w, unsigned sel) {
  unsigned t = __byte_perm(w, 0u, sel);
  unsigned r = (t & 0x80008000u) | ((t & 0x7f007f00u) >> 4);
  unsigned d;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(r), "r"(0x7b807b80u), "r"(0x80008000u));
  return d;
}

__device__ __forceinline__ unsigned word(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

/** Where one warp reads: its two weight rows (clamped to the matrix), their scale rows, its x row. */
struct MmaLane {
  const uint8_t* wa;
  const uint8_t* wb;
  const float* sa;
  const float* sb;
  const bf16* xr;
  int q;
};

/** The step's weights: 32 bytes of row g (v[0], v[1]) and of row g + 8 (v[2], v[3]); zero past `in`. */
__device__ __forceinline__ void mmaLoad(uint4 (&v)[4], const MmaLane& l, int step, int in) {
  int k = step * 128 + l.q * 32;
  uint4 z = make_uint4(0, 0, 0, 0);
  v[0] = k < in ? loadWeight((const uint4*)(l.wa + k)) : z;
  v[1] = k + 16 < in ? loadWeight((const uint4*)(l.wa + k + 16)) : z;
  v[2] = k < in ? loadWeight((const uint4*)(l.wb + k)) : z;
  v[3] = k + 16 < in ? loadWeight((const uint4*)(l.wb + k + 16)) : z;
}

/** One step: the 8 MMAs of the tile against x, summed in fp32 and scaled per row into c. */
__device__ __forceinline__ void mmaStep(float (&c)[4], const uint4 (&v)[4], const MmaLane& l, int step, int in,
                                        int colShift) {
  int k = step * 128 + l.q * 32;
  uint4 xv[4];
#pragma unroll
  for (int i = 0; i < 4; i++) xv[i] = k + 8 * i < in ? __ldg((const uint4*)(l.xr + k) + i) : make_uint4(0, 0, 0, 0);
  float d0[4] = {0.f, 0.f, 0.f, 0.f}, d1[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int j = 0; j < 8; j++) {
    unsigned wa = word(v[j >> 2], j & 3), wb = word(v[2 + (j >> 2)], j & 3);
    unsigned a[4] = {e4m3PairBf16(wa, 0x1404u), e4m3PairBf16(wb, 0x1404u), e4m3PairBf16(wa, 0x3424u),
                     e4m3PairBf16(wb, 0x3424u)};
    const uint4& xp = xv[j >> 1];
    unsigned b0 = (j & 1) ? xp.z : xp.x, b1 = (j & 1) ? xp.w : xp.y;
    if (j & 1) mma::mma16816(d1, a, b0, b1);
    else mma::mma16816(d0, a, b0, b1);
  }
  int blk = (step * 128) >> colShift;
  float sa = __ldg(l.sa + blk), sb = __ldg(l.sb + blk);
  c[0] = fmaf(d0[0] + d1[0], sa, c[0]);
  c[1] = fmaf(d0[1] + d1[1], sa, c[1]);
  c[2] = fmaf(d0[2] + d1[2], sb, c[2]);
  c[3] = fmaf(d0[3] + d1[3], sb, c[3]);
}

/**
 * The accumulators (mma C fragment: rows g, g + 8 × x rows 2q, 2q + 1) of the 16 weight rows from `first` (rows past
 * `end` read row end − 1, their sums unused) over this warp's steps ks, ks + KS, ...; U steps in flight per lane, the
 * first U loaded before pdlWait().
 */
template <int T, int KS>
__device__ __forceinline__ void mmaAccFp8(float (&c)[4], const Fp8Mat& w, int first, int end, const bf16* x, int ldx,
                                          int in, int ks, int lane) {
  constexpr int U = 2;
  int g = lane >> 2;
  int ra = min(first + g, end - 1), rb = min(first + g + 8, end - 1);
  MmaLane l{w.q + (size_t)ra * in, w.q + (size_t)rb * in, w.s + (size_t)(ra >> w.rowShift) * w.sld,
            w.s + (size_t)(rb >> w.rowShift) * w.sld, x + (size_t)min(g, T - 1) * ldx, lane & 3};
#pragma unroll
  for (int i = 0; i < 4; i++) c[i] = 0.f;
  int steps = (in + 127) >> 7, s = ks;
  uint4 nx[U][4];
  bool full = s + (U - 1) * KS < steps;
  if (full) {
#pragma unroll
    for (int u = 0; u < U; u++) mmaLoad(nx[u], l, s + u * KS, in);
  }
  pdlWait();
  while (full) {
    uint4 cur[U][4];
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int i = 0; i < 4; i++) cur[u][i] = nx[u][i];
    int ns = s + U * KS;
    full = ns + (U - 1) * KS < steps;
    if (full) {
#pragma unroll
      for (int u = 0; u < U; u++) mmaLoad(nx[u], l, ns + u * KS, in);
    }
#pragma unroll
    for (int u = 0; u < U; u++) mmaStep(c, cur[u], l, s + u * KS, in, w.colShift);
    s = ns;
  }
  for (; s < steps; s += KS) {
    uint4 v[4];
    mmaLoad(v, l, s, in);
    mmaStep(c, v, l, s, in, w.colShift);
  }
}

/** A warp's C fragment into its shared tile part[row][x row] (x rows >= T dropped). */
template <int T>
__device__ __forceinline__ void mmaPut(float (*part)[8], const float (&c)[4], int lane) {
  int g = lane >> 2, t = 2 * (lane & 3);
  if (t < T) { part[g][t] = c[0]; part[g + 8][t] = c[2]; }
  if (t + 1 < T) { part[g][t + 1] = c[1]; part[g + 8][t + 1] = c[3]; }
}

/** Row r, x row t of tile i: the sum of its KS warps' parts, in warp order. */
template <int KS>
__device__ __forceinline__ float mmaSum(const float (*part)[16][8], int i, int r, int t) {
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < KS; k++) s += part[i * KS + k][r][t];
  return s;
}

/** Plain: RT = 8 / KS tiles of 16 rows per block of 8 warps. */
template <int T, bool F32, int KS>
__global__ void __launch_bounds__(256) gemvFp8MmaK(void* y, int ldy, const bf16* x, int ldx, Fp8Mat w,
                                                   const bf16* bias, int in, int out) {
  pdlTrigger();
  constexpr int RT = 8 / KS;
  __shared__ float part[8][16][8];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, rt = warp / KS;
  float c[4];
  mmaAccFp8<T, KS>(c, w, (blockIdx.x * RT + rt) * 16, out, x, ldx, in, warp - rt * KS, lane);
  mmaPut<T>(part[warp], c, lane);
  __syncthreads();
  for (int e = threadIdx.x; e < RT * T * 16; e += 256) {
    int r = e & 15, t = (e >> 4) % T, i = (e >> 4) / T;
    int row = (blockIdx.x * RT + i) * 16 + r;
    if (row >= out) continue;
    float s = mmaSum<KS>(part, i, r, t);
    if (bias != nullptr) s += bf(bias[row]);
    if (F32) ((float*)y)[(size_t)t * ldy + row] = s;
    else ((bf16*)y)[(size_t)t * ldy + row] = tobf(s);
  }
}

/** gate_up + SiLU·mul: P = RT / 2 gate tiles and their P up tiles (rows inter + f) per block. */
template <int T, int KS>
__global__ void __launch_bounds__(256) gemvSiluFp8MmaK(bf16* y, const bf16* x, int ldx, Fp8Mat w, int in, int inter) {
  pdlTrigger();
  constexpr int P = 4 / KS;
  __shared__ float part[8][16][8];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, rt = warp / KS;
  int f0 = (blockIdx.x * P + rt % P) * 16;
  float c[4];
  if (rt < P) mmaAccFp8<T, KS>(c, w, f0, inter, x, ldx, in, warp - rt * KS, lane);
  else mmaAccFp8<T, KS>(c, w, inter + f0, 2 * inter, x, ldx, in, warp - rt * KS, lane);
  mmaPut<T>(part[warp], c, lane);
  __syncthreads();
  for (int e = threadIdx.x; e < P * T * 16; e += 256) {
    int r = e & 15, t = (e >> 4) % T, i = (e >> 4) / T;
    int f = (blockIdx.x * P + i) * 16 + r;
    if (f >= inter) continue;
    float gb = bf(tobf(mmaSum<KS>(part, i, r, t))), ub = bf(tobf(mmaSum<KS>(part, P + i, r, t)));
    y[(size_t)t * inter + f] = tobf(gb / (1.f + expf(-gb)) * ub);
  }
}

/** QKV + bias + RoPE + KV write (the pairs (2i, 2i + 1) of a rotated head lie in one 16-row tile). */
template <int T, int KS, typename KV>
__global__ void __launch_bounds__(256) gemvQkvFp8MmaK(const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int in,
                                                      int out, QkvOutT<KV> o) {
  pdlTrigger();
  constexpr int RT = 8 / KS;
  __shared__ float part[8][16][8];
  __shared__ float val[RT][16][8];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, rt = warp / KS;
  float c[4];
  mmaAccFp8<T, KS>(c, w, (blockIdx.x * RT + rt) * 16, out, x, ldx, in, warp - rt * KS, lane);
  mmaPut<T>(part[warp], c, lane);
  __syncthreads();
  for (int e = threadIdx.x; e < RT * T * 16; e += 256) {
    int r = e & 15, t = (e >> 4) % T, i = (e >> 4) / T;
    int f = (blockIdx.x * RT + i) * 16 + r;
    if (f >= out) continue;
    float s = mmaSum<KS>(part, i, r, t);
    if (bias != nullptr) s += bf(bias[f]);
    val[i][r][t] = bf(tobf(s));
  }
  __syncthreads();
  int kvEnd = o.qWidth + o.kvWidth;
  for (int e = threadIdx.x; e < RT * T * 16; e += 256) {
    int r = e & 15, t = (e >> 4) % T, i = (e >> 4) / T;
    int f = (blockIdx.x * RT + i) * 16 + r;
    if (f >= out) continue;
    float xv = val[i][r][t];
    if (f < kvEnd) {
      int cc = f < o.qWidth ? f : f - o.qWidth;
      int d = cc % o.headDim;
      if (d < o.rot) xv = ropePair(xv, val[i][r ^ 1][t], (d & 1) == 0, o.pos[t], o.inv[d >> 1]);
      if (f < o.qWidth) o.q[(size_t)t * o.qWidth + f] = tobf(xv);
      else o.kc[(size_t)o.slots[t] * o.kvWidth + cc] = toKv<KV>(xv);
    } else {
      o.vc[(size_t)o.slots[t] * o.kvWidth + (f - kvEnd)] = toKv<KV>(xv);
    }
  }
}

}  // namespace

int fp8MmaSplit(long out) {
  // at least 2,048 warps (× cuda.gemvVariant). With 4,096 (gemvVariant 2) gate_up + SiLU at glm-4-9b's shape took
  // 36.8–40.1 µs at 1..8 rows (split 4) against 40.3–42.3 (split 2) on the H200 (2026-12-04), the other linears the
  // same (split 8 either way); not yet the default (branch fp8gemv-split4: not run through the self-checks)
  long tiles = (out + 15) / 16, warps = 2048L * g_kernels.gemvVariant;
  int ks = 1;
  while (ks < 8 && tiles * ks < warps) ks *= 2;
  return ks;
}

bool fp8MmaApplies(const Fp8Mat& w, int rows) {
  return g_kernels.fp8GemvTc > 0 && rows >= g_kernels.fp8GemvTc && rows <= 8 && w.colShift >= 7 && w.rowShift >= 0;
}

#define FP8_MMA_ROWS(F) \
  switch (rows) {       \
    case 1: F(1); break; \
    case 2: F(2); break; \
    case 3: F(3); break; \
    case 4: F(4); break; \
    case 5: F(5); break; \
    case 6: F(6); break; \
    case 7: F(7); break; \
    default: F(8);       \
  }

template <int T, bool F32>
static void gemvFp8Mma(cudaStream_t s, void* y, int ldy, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias,
                       int in, int out) {
  long tiles = (out + 15) / 16;
  switch (fp8MmaSplit(out)) {
    case 1: launchK(true, gemvFp8MmaK<T, F32, 1>, (int)((tiles + 7) / 8), 256, s, y, ldy, x, ldx, w, bias, in, out); break;
    case 2: launchK(true, gemvFp8MmaK<T, F32, 2>, (int)((tiles + 3) / 4), 256, s, y, ldy, x, ldx, w, bias, in, out); break;
    case 4: launchK(true, gemvFp8MmaK<T, F32, 4>, (int)((tiles + 1) / 2), 256, s, y, ldy, x, ldx, w, bias, in, out); break;
    default: launchK(true, gemvFp8MmaK<T, F32, 8>, (int)tiles, 256, s, y, ldy, x, ldx, w, bias, in, out);
  }
}

void launchGemvFp8Mma(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const Fp8Mat& w,
                      const bf16* bias, int rows, int in, int out) {
#define PLAIN(T)                                                              \
  if (f32Out) gemvFp8Mma<T, true>(s, y, ldy, x, ldx, w, bias, in, out); \
  else gemvFp8Mma<T, false>(s, y, ldy, x, ldx, w, bias, in, out)
  FP8_MMA_ROWS(PLAIN)
#undef PLAIN
}

bool launchGemvSiluFp8Mma(cudaStream_t s, bf16* y, const bf16* x, int ldx, const Fp8Mat& w, int rows, int in,
                          int inter) {
  int ks = fp8MmaSplit(2L * inter);  // the plain GEMV's split of the 2·inter rows, so gate and up sum alike
  if (ks > 4) return false;          // a split of 8 leaves one tile per block: no gate/up pair
  long pairs = (inter + 15) / 16;
  int p = 4 / ks;
  int blocks = (int)((pairs + p - 1) / p);
#define SILU(T)                                                                                   \
  if (ks == 1) launchK(true, gemvSiluFp8MmaK<T, 1>, blocks, 256, s, y, x, ldx, w, in, inter);      \
  else if (ks == 2) launchK(true, gemvSiluFp8MmaK<T, 2>, blocks, 256, s, y, x, ldx, w, in, inter); \
  else launchK(true, gemvSiluFp8MmaK<T, 4>, blocks, 256, s, y, x, ldx, w, in, inter)
  FP8_MMA_ROWS(SILU)
#undef SILU
  return true;
}

template <typename KV>
static void gemvQkvFp8MmaOf(cudaStream_t s, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias, int rows,
                            int in, int out, const QkvOutT<KV>& o) {
  long tiles = (out + 15) / 16;
  int ks = fp8MmaSplit(out);
  int blocks = (int)((tiles + 8 / ks - 1) / (8 / ks));
#define QKV(T)                                                                                          \
  if (ks == 1) launchK(true, gemvQkvFp8MmaK<T, 1, KV>, blocks, 256, s, x, ldx, w, bias, in, out, o);         \
  else if (ks == 2) launchK(true, gemvQkvFp8MmaK<T, 2, KV>, blocks, 256, s, x, ldx, w, bias, in, out, o);    \
  else if (ks == 4) launchK(true, gemvQkvFp8MmaK<T, 4, KV>, blocks, 256, s, x, ldx, w, bias, in, out, o);    \
  else launchK(true, gemvQkvFp8MmaK<T, 8, KV>, blocks, 256, s, x, ldx, w, bias, in, out, o)
  FP8_MMA_ROWS(QKV)
#undef QKV
}

void launchGemvQkvFp8Mma(cudaStream_t s, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias, int rows, int in,
                         int out, const QkvOut& o) {
  gemvQkvFp8MmaOf(s, x, ldx, w, bias, rows, in, out, o);
}

void launchGemvQkvFp8Mma(cudaStream_t s, const bf16* x, int ldx, const Fp8Mat& w, const bf16* bias, int rows, int in,
                         int out, const QkvOutT<kv8>& o) {
  gemvQkvFp8MmaOf(s, x, ldx, w, bias, rows, in, out, o);
}

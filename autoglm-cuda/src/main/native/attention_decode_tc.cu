// Paged causal attention of decode rows on the tensor cores (cuda.decodeAttnTc): per (token, KV head, split) the
// query heads that share the KV head are the M rows of bf16 m16n8k16 MMAs, K/V pages stream through shared memory
// with cp.async (double-buffered), the online softmax runs in fp32 registers, and the splits of a long context are
// merged in split order by the last block of a (token, KV head). Plus its JNI entry (CudaNative.attentionTc).
#include "bridge.cuh"
#include "attention_decode_tc.cuh"
#include "mma_tiles.cuh"
#include "kv_cache.cuh"
#include <atomic>

namespace {
using namespace mma;

constexpr int DT_HB = 16;        // query heads per block: the MMA's M (fewer are zero-padded)
constexpr int DT_COMBINE_THREADS = 128;
/** Warps per block of each variant (setDecodeAttentionTcVariant): a K/V tile is 16 keys per warp. */
constexpr int DT_VARIANT_WARPS[DECODE_TC_VARIANTS] = {4, 2, 1};
// process-wide, a benchmark switch (CudaSelfTests.setDecodeTcVariant); -1 (default): by the step's rows x KV heads,
// 4 warps below 512 and 2 warps from 512 on (the H200 kernel table of 2026-12-03: at glm-4-9b shapes, context 133,
// 4 warps 11.2 / 13.9 µs at 64 / 128 rows against 14.8 / 18.0 for 2 warps, and 2 warps 20.4 against 23.2 at 256 rows)
int g_variant = -1;
constexpr long DT_TWO_WARPS_FROM_UNITS = 512;
constexpr float LOG2E = 1.4426950408889634f;

/**
 * The keys [start, end) of split sp of a context of `visible` positions. partition 0 (graph steps): the context split
 * evenly over the splits in whole tiles of bn keys, `used` of them non-empty (false for the others); otherwise splits of
 * `partition` positions, all `splits` used (a split past the context is empty).
 */
__device__ __forceinline__ bool splitRange(int bn, int visible, int partition, int splits, int sp, int& start,
                                           int& end, int& used) {
  used = splits;
  if (partition == 0) {
    partition = ((visible + splits - 1) / splits + bn - 1) / bn * bn;
    used = (visible + partition - 1) / partition;
    if (sp >= used) return false;
  }
  start = sp * partition;
  end = min(visible, start + partition);
  return true;
}

/**
 * Merges the `used` split partials of (token t, query heads g0 .. g0 + gn - 1 of KV head kh) into out, in split order:
 * one factor exp2(m_s − M) per (head, split) into fac (DT_HB rows of DECODE_TC_MAX_SPLITS), the sum L per head into
 * headL, then every output element Σ_s A_s·f_s / L. A unit of partials is (t, kh, split): group × D sums, then
 * (m in log2 units, l) per head.
 */
__device__ void mergeUnit(bf16* out, const float* part, size_t unit0, int used, int t, int kh, int g0, int gn,
                          int group, int heads, int D, float* fac, float* headL) {
  size_t unitFloats = (size_t)group * (D + 2);
  for (int i = threadIdx.x; i < gn * used; i += blockDim.x) {
    int r = i / used, s2 = i - r * used;
    fac[r * DECODE_TC_MAX_SPLITS + s2] = __ldcg(part + (unit0 + s2) * unitFloats + (size_t)group * D + 2 * (g0 + r));
  }
  __syncthreads();
  if (threadIdx.x < gn) {
    int r = threadIdx.x;
    float* f = fac + r * DECODE_TC_MAX_SPLITS;
    float M = -CUDART_INF_F;
    for (int s2 = 0; s2 < used; s2++) M = fmaxf(M, f[s2]);
    float L = 0.f;
    for (int s2 = 0; s2 < used; s2++) {
      float x = f[s2] == -CUDART_INF_F ? 0.f : exp2f(f[s2] - M);
      L += x * __ldcg(part + (unit0 + s2) * unitFloats + (size_t)group * D + 2 * (g0 + r) + 1);
      f[s2] = x;
    }
    headL[r] = L;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < gn * D; e += blockDim.x) {
    int r = e / D, d = e - r * D;
    const float* a = part + unit0 * unitFloats + (size_t)(g0 + r) * D + d;
    const float* f = fac + r * DECODE_TC_MAX_SPLITS;
    float A = 0.f;
#pragma unroll 4
    for (int s2 = 0; s2 < used; s2++) A += __ldcg(a + s2 * unitFloats) * f[s2];
    out[(size_t)t * heads * D + (size_t)(kh * group + g0 + r) * D + d] = tobf(A / headL[r]);
  }
}

/**
 * Block (token t, KV head kh · hgb + hb, split sp): query heads 16·hb .. 16·hb + 15 of KV head kh (zero rows past the
 * group) against the split's keys, 64 per tile. Each warp takes 16 keys of a tile: S (16 × 16) = Q·Kᵀ by KSTEPS
 * MMAs (Q as A fragments in registers, K by ldmatrix from the swizzled tile), the keys past the split masked, an
 * online softmax per warp in exp2 units, P rounded to bf16 as the A operand of P·V (V by ldmatrix.trans), O (16 × D)
 * in fp32 registers. Then the 4 warps' (m, l, O) merge through shared memory; one split writes out = O / l, more
 * write partials that the last block of (t, kh · hgb + hb) merges (counters), or decodeAttnTcCombineK (no counters).
 */
template <int D, int W, typename KV>
__global__ void __launch_bounds__(32 * W) decodeAttnTcK(bf16* out, float* part, int* counters, const bf16* q,
    int ldq, const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride,
    int blockSize, int heads, int kvHeads, int group, int hgb, float scale, int partition, int splits) {
  pdlTrigger();  // pdlWait below: what comes before reads only the step's inputs (pos, tokSeq, tables)
  constexpr int DT_BN = 16 * W;             // keys per K/V tile
  constexpr int DT_THREADS = 32 * W;
  constexpr int CH = D / 8;                 // 16-byte chunks per row
  constexpr int RPP = DT_THREADS / CH;      // rows per pass of the block's loads
  constexpr int LR = DT_BN / RPP;           // key rows per thread and tile
  constexpr int KSTEPS = D / 16;
  constexpr int DN = D / 8;
  constexpr int OSTR = D + 8;               // floats per row of the warps' O in shared memory
  extern __shared__ __align__(16) unsigned char smemRaw[];
  bf16* qs = (bf16*)smemRaw;                // DT_HB × D
  bf16* ks = qs + DT_HB * D;                // 2 × DT_BN × D
  bf16* vs = ks + 2 * DT_BN * D;            // 2 × DT_BN × D
  float* ow = (float*)ks;                   // after the loop: W × DT_HB × OSTR
  float* fac = ow + W * DT_HB * OSTR;       // the merge: DT_HB × DECODE_TC_MAX_SPLITS
  __shared__ float mw[W][DT_HB], lw[W][DT_HB], headM[DT_HB], headL[DT_HB];
  __shared__ int lastBlock;
  int t = blockIdx.x, u = blockIdx.y, sp = blockIdx.z;
  int kh = u / hgb, hb = u - kh * hgb;
  int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  int start, end, used;
  if (!splitRange(DT_BN, pos[t] + 1, partition, splits, sp, start, end, used)) return;
  int g0 = hb * DT_HB, gn = min(DT_HB, group - g0);
  const int* table = tables + (size_t)tokSeq[t] * stride;
  size_t rowStride = (size_t)kvHeads * D;
  const KV* kbase = kc + (size_t)kh * D;
  const KV* vbase = vc + (size_t)kh * D;
  const bf16* qrow = q + (size_t)t * ldq + (size_t)(kh * group + g0) * D;
  int nTiles = end > start ? (end - start + DT_BN - 1) / DT_BN : 0;  // 0: a static split past the context
  int slotNext[LR];
  auto slotsOf = [&](int tile) {
#pragma unroll
    for (int i = 0; i < LR; i++) {
      int p = start + tile * DT_BN + tid / CH + i * RPP;
      slotNext[i] = p < end ? table[p / blockSize] * blockSize + p % blockSize : -1;
    }
  };
  // the first tile's slots before waiting for the previous kernel: the step's inputs are copied ahead of every
  // kernel of the step, the previous kernel (RoPE + the KV write) writes q and the cache, read after pdlWait
  if (nTiles > 0) slotsOf(0);
  pdlWait();
  for (int i = tid; i < DT_HB * CH; i += DT_THREADS) {
    int m = i / CH, c = i - m * CH;
    bool valid = m < gn;
    cpAsync16(qs + swz<D>(m, c), qrow + (size_t)(valid ? m : 0) * D + c * 8, valid);
  }
  cpAsyncCommit();
  // bf16: a tile's rows go to shared memory by cp.async; E4M3: loadKv fetches the codes into registers and storeKv,
  // after the current tile's MMAs, writes them to shared memory as bf16 (exact), in the same swizzled layout
  KvRaw8<KV> kreg[sizeof(KV) == 1 ? LR : 1], vreg[sizeof(KV) == 1 ? LR : 1];
  auto loadKv = [&](int buf) {
    int c = tid % CH;
#pragma unroll
    for (int i = 0; i < LR; i++) {
      int r = tid / CH + i * RPP;
      bool valid = slotNext[i] >= 0;
      size_t off = (size_t)(valid ? slotNext[i] : 0) * rowStride + c * 8;
      if constexpr (sizeof(KV) == 2) {
        cpAsync16(ks + buf * DT_BN * D + swz<D>(r, c), kbase + off, valid);
        cpAsync16(vs + buf * DT_BN * D + swz<D>(r, c), vbase + off, valid);
      } else {
        kreg[i] = valid ? __ldg((const uint2*)(kbase + off)) : make_uint2(0, 0);
        vreg[i] = valid ? __ldg((const uint2*)(vbase + off)) : make_uint2(0, 0);
      }
    }
  };
  auto storeKv = [&](int buf) {
    if constexpr (sizeof(KV) == 1) {
      storeKvTile<D, LR, CH, RPP>(ks + buf * DT_BN * D, vs + buf * DT_BN * D, kreg, vreg, tid);
    }
  };
  if (nTiles > 0) {
    loadKv(0);
    storeKv(0);
  }
  cpAsyncCommit();
  if (nTiles > 1) slotsOf(1);
  cpAsyncWait<1>();  // Q landed
  __syncthreads();
  unsigned qf[KSTEPS][4];
#pragma unroll
  for (int kk = 0; kk < KSTEPS; kk++) ldmatrix4(qf[kk], qs + swz<D>(lane & 15, kk * 2 + (lane >> 4)));
  const float sl2 = scale * LOG2E;
  float o[DN][4];
#pragma unroll
  for (int n = 0; n < DN; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m0 = -CUDART_INF_F, m1 = -CUDART_INF_F, l0 = 0.f, l1 = 0.f;  // rows lane / 4 and lane / 4 + 8
  for (int j = 0; j < nTiles; j++) {
    if (j + 1 < nTiles) loadKv((j + 1) & 1);
    cpAsyncCommit();
    if (j + 2 < nTiles) slotsOf(j + 2);
    cpAsyncWait<1>();
    __syncthreads();
    // this warp's 16 keys: rows 16·warp.. of the tile (a multiple of 8, so the swizzle of local rows is the same)
    const bf16* kt = ks + (j & 1) * DT_BN * D + warp * 16 * D;
    const bf16* vt = vs + (j & 1) * DT_BN * D + warp * 16 * D;
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int kk = 0; kk < KSTEPS; kk++) {
      unsigned b[4];  // b0 b1 of keys 0-7, then of keys 8-15
      ldmatrix4(b, kt + swz<D>((lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
      mma16816(s[0], qf[kk], b[0], b[1]);
      mma16816(s[1], qf[kk], b[2], b[3]);
    }
    int k0 = start + j * DT_BN + warp * 16;
    float mx0 = m0, mx1 = m1;
#pragma unroll
    for (int n = 0; n < 2; n++) {
      int p = k0 + n * 8 + (lane & 3) * 2;
      if (p >= end) s[n][0] = s[n][2] = -CUDART_INF_F;
      if (p + 1 >= end) s[n][1] = s[n][3] = -CUDART_INF_F;
      mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));
      mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));
    }
#pragma unroll
    for (int o2 = 1; o2 < 4; o2 <<= 1) {
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o2));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o2));
    }
    // a warp whose keys so far are all past the split keeps max -inf: the factors use 0 then (exp2 gives 0, not NaN)
    float b0 = mx0 == -CUDART_INF_F ? 0.f : mx0 * sl2, b1 = mx1 == -CUDART_INF_F ? 0.f : mx1 * sl2;
    float c0 = exp2f(m0 * sl2 - b0), c1 = exp2f(m1 * sl2 - b1);
    m0 = mx0;
    m1 = mx1;
    l0 *= c0;
    l1 *= c1;
#pragma unroll
    for (int n = 0; n < DN; n++) {
      o[n][0] *= c0;
      o[n][1] *= c0;
      o[n][2] *= c1;
      o[n][3] *= c1;
    }
    unsigned pf[4];  // P (16 × 16) as the A fragment: keys 0-7 give a0..a3, keys 8-15 a4..a7
#pragma unroll
    for (int n = 0; n < 2; n++) {
      float p0 = exp2f(s[n][0] * sl2 - b0), p1 = exp2f(s[n][1] * sl2 - b0);
      float p2 = exp2f(s[n][2] * sl2 - b1), p3 = exp2f(s[n][3] * sl2 - b1);
      l0 += p0 + p1;
      l1 += p2 + p3;
      pf[n * 2] = packBf2(p0, p1);
      pf[n * 2 + 1] = packBf2(p2, p3);
    }
#pragma unroll
    for (int n = 0; n < DN; n += 2) {
      unsigned b[4];  // b0 b1 of channel block n, then of n + 1
      ldmatrix4T(b, vt + swz<D>((lane & 7) + (((lane >> 3) & 1) << 3), n + (lane >> 4)));
      mma16816(o[n], pf, b[0], b[1]);
      mma16816(o[n + 1], pf, b[2], b[3]);
    }
    // E4M3: the next tile into the buffer that tile j - 1 used (every warp finished it before this iteration's
    // first barrier); the barrier below makes it visible
    if (j + 1 < nTiles) storeKv((j + 1) & 1);
    __syncthreads();  // the tile's buffers are refilled two iterations on
  }
  cpAsyncWait<0>();
  __syncthreads();  // the K/V buffers become the warps' O
#pragma unroll
  for (int o2 = 1; o2 < 4; o2 <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, o2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, o2);
  }
  int r0 = lane >> 2, cq = (lane & 3) * 2;
  float* my = ow + warp * DT_HB * OSTR;
#pragma unroll
  for (int n = 0; n < DN; n++) {
    *(float2*)(my + r0 * OSTR + n * 8 + cq) = make_float2(o[n][0], o[n][1]);
    *(float2*)(my + (r0 + 8) * OSTR + n * 8 + cq) = make_float2(o[n][2], o[n][3]);
  }
  if ((lane & 3) == 0) {
    mw[warp][r0] = m0;
    mw[warp][r0 + 8] = m1;
    lw[warp][r0] = l0;
    lw[warp][r0 + 8] = l1;
  }
  __syncthreads();
  if (tid < DT_HB) {  // the warps' factors f_w = exp2(m_w − M) (0 for a warp that saw no key), L = Σ l_w·f_w
    float M = mw[0][tid];
#pragma unroll
    for (int w = 1; w < W; w++) M = fmaxf(M, mw[w][tid]);
    float L = 0.f;
#pragma unroll
    for (int w = 0; w < W; w++) {
      float f = mw[w][tid] == -CUDART_INF_F ? 0.f : exp2f((mw[w][tid] - M) * sl2);
      L += lw[w][tid] * f;
      mw[w][tid] = f;
    }
    headM[tid] = M;
    headL[tid] = L;
  }
  __syncthreads();
  // the output directly when no merge follows: one split, or one in use and this kernel merges
  bool direct = splits == 1 || (used == 1 && counters != nullptr);
  size_t unitFloats = (size_t)group * (D + 2);
  size_t unit0 = ((size_t)t * kvHeads + kh) * splits;
  float* un = direct ? nullptr : part + (unit0 + sp) * unitFloats;
  for (int e = tid; e < gn * D; e += DT_THREADS) {
    int r = e / D, d = e - r * D, g = g0 + r;
    float A = 0.f;
#pragma unroll
    for (int w = 0; w < W; w++) A += ow[(w * DT_HB + r) * OSTR + d] * mw[w][r];
    if (direct) {
      out[(size_t)t * heads * D + (size_t)(kh * group + g) * D + d] = tobf(A / headL[r]);
    } else {
      un[(size_t)g * D + d] = A;
      if (d == 0) {
        un[(size_t)group * D + 2 * g] = headM[r] == -CUDART_INF_F ? -CUDART_INF_F : headM[r] * sl2;
        un[(size_t)group * D + 2 * g + 1] = headL[r];
      }
    }
  }
  if (direct || counters == nullptr) return;
  __threadfence();
  __syncthreads();
  if (tid == 0) {
    int* c = counters + (size_t)t * gridDim.y + u;
    lastBlock = atomicAdd(c, 1) == used - 1;
    if (lastBlock) *c = 0;
  }
  __syncthreads();
  if (!lastBlock) return;
  __threadfence();
  mergeUnit(out, part, unit0, used, t, kh, g0, gn, group, heads, D, fac, headL);
}

/** The split merge of decodeAttnTcK launched without counters: block (token, KV head · hgb + hb). */
__global__ void __launch_bounds__(DT_COMBINE_THREADS) decodeAttnTcCombineK(bf16* out, const float* part, const int* pos,
    int heads, int kvHeads, int group, int hgb, int D, int bn, int partition, int splits) {
  pdlTrigger();
  pdlWait();
  __shared__ float fac[DT_HB * DECODE_TC_MAX_SPLITS];
  __shared__ float headL[DT_HB];
  int t = blockIdx.x, kh = blockIdx.y / hgb, hb = blockIdx.y - kh * hgb;
  int start, end, used;
  splitRange(bn, pos[t] + 1, partition, splits, 0, start, end, used);
  int g0 = hb * DT_HB;
  mergeUnit(out, part, ((size_t)t * kvHeads + kh) * splits, used, t, kh, g0, min(DT_HB, group - g0), group, heads,
            D, fac, headL);
}

template <int D, int W, typename KV>
void launchTc(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq, const KV* kc,
              const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
              int rows, int heads, int kvHeads, float scale, int partition, int splits) {
  constexpr int BN = 16 * W;
  // Q, then the double-buffered K/V tiles, which after the loop hold the warps' O and the merge factors
  constexpr size_t kvBytes = (size_t)4 * BN * D * 2;
  constexpr size_t oBytes = (size_t)(W * DT_HB * (D + 8) + DT_HB * DECODE_TC_MAX_SPLITS) * 4;
  constexpr size_t smem = (size_t)DT_HB * D * 2 + (kvBytes > oBytes ? kvBytes : oBytes);
  // above the default 48 KiB at D = 128: the attribute belongs to the device current now, so it is set once per
  // device (a bit per device id; above 31 on every launch), not on every launch (a host call per eager step)
  static std::atomic<unsigned> allowed{0};
  int dev = 0;
  cudaGetDevice(&dev);
  unsigned bit = dev >= 0 && dev < 32 ? 1u << dev : 0u;
  if (smem > 48 * 1024 && (bit == 0 || (allowed.load(std::memory_order_relaxed) & bit) == 0)) {
    if (cudaFuncSetAttribute(decodeAttnTcK<D, W, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) ==
        cudaSuccess) {
      allowed.fetch_or(bit, std::memory_order_relaxed);
    }
  }
  int group = heads / kvHeads, hgb = (group + DT_HB - 1) / DT_HB;
  launchKs(true, decodeAttnTcK<D, W, KV>, dim3(rows, kvHeads * hgb, splits), 32 * W, smem, s, out, part, counters, q,
           ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, heads, kvHeads, group, hgb, scale, partition, splits);
  if (splits > 1 && counters == nullptr) {
    launchK(true, decodeAttnTcCombineK, dim3(rows, kvHeads * hgb), DT_COMBINE_THREADS, s, out, part, pos, heads, kvHeads,
            group, hgb, D, BN, partition, splits);
  }
}

/** launchTc of the variant's warps per block. */
template <int D, typename KV>
void launchVariant(int variant, cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                   const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride,
                   int blockSize, int rows, int heads, int kvHeads, float scale, int partition, int splits) {
  switch (DT_VARIANT_WARPS[variant]) {
    case 2:
      launchTc<D, 2, KV>(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                     kvHeads, scale, partition, splits);
      break;
    case 1:
      launchTc<D, 1, KV>(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                     kvHeads, scale, partition, splits);
      break;
    default:
      launchTc<D, 4, KV>(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                     kvHeads, scale, partition, splits);
  }
}

}  // namespace

bool decodeAttentionTcSupported(int heads, int kvHeads, int headDim) {
  return kvHeads >= 1 && heads >= kvHeads && heads % kvHeads == 0 && (headDim == 128 || headDim == 64) &&
         (long)kvHeads * ((heads / kvHeads + DT_HB - 1) / DT_HB) <= 65535;
}

template <typename KV>
static bool decodeAttentionTcOf(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                                const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables,
                                int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                                int partition, int splits) {
  // 16-byte cp.async of q rows needs q and ldq 16-byte aligned (the KV cache is)
  if (!decodeAttentionTcSupported(heads, kvHeads, headDim) || rows < 1 || splits < 1 ||
      splits > DECODE_TC_MAX_SPLITS || partition < 0 || blockSize < 1 || ldq % 8 != 0 ||
      (reinterpret_cast<uintptr_t>(q) & 15) != 0 || (splits > 1 && part == nullptr)) {
    return false;
  }
  int variant = g_variant >= 0 ? g_variant : (long)rows * kvHeads >= DT_TWO_WARPS_FROM_UNITS ? 1 : 0;
  if (headDim == 128) {
    launchVariant<128, KV>(variant, s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize,
                       rows, heads, kvHeads, scale, partition, splits);
  } else {
    launchVariant<64, KV>(variant, s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize,
                      rows, heads, kvHeads, scale, partition, splits);
  }
  return true;
}

bool launchDecodeAttentionTc(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                             const bf16* kc, const bf16* vc, const int* tokSeq, const int* pos, const int* tables,
                             int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                             int partition, int splits) {
  return decodeAttentionTcOf(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows,
                             heads, kvHeads, headDim, scale, partition, splits);
}

bool launchDecodeAttentionTc(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                             const kv8* kc, const kv8* vc, const int* tokSeq, const int* pos, const int* tables,
                             int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                             int partition, int splits) {
  return decodeAttentionTcOf(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows,
                             heads, kvHeads, headDim, scale, partition, splits);
}

void setDecodeAttentionTcVariant(int variant) {
  g_variant = variant >= 0 && variant < DECODE_TC_VARIANTS ? variant : -1;
}

int decodeAttentionTcVariant() { return g_variant; }

int decodeAttentionTcWarps(int variant) {
  return variant >= 0 && variant < DECODE_TC_VARIANTS ? DT_VARIANT_WARPS[variant] : 0;
}

/**
 * CudaNative.attentionTc: launchDecodeAttentionTc on the context's stream. False (nothing launched) for a shape it
 * does not serve; throws IllegalStateException after a launch error.
 */
JNI(jboolean, attentionTc)(JNIEnv* env, jclass, jlong h, jlong out, jlong part, jlong counters, jlong q, jint ldq,
                           jlong kc, jlong vc, jlong tokSeq, jlong pos, jlong tables, jint stride, jint blockSize,
                           jint rows, jint heads, jint kvHeads, jint headDim, jfloat scale, jint partition,
                           jint splits, jboolean fp8Kv) {
  bool ok = fp8Kv ? launchDecodeAttentionTc(ctx(h)->stream, p<bf16>(out), p<float>(part), p<int>(counters),
                                            p<bf16>(q), ldq, p<kv8>(kc), p<kv8>(vc), p<int>(tokSeq), p<int>(pos),
                                            p<int>(tables), stride, blockSize, rows, heads, kvHeads, headDim, scale,
                                            partition, splits)
                  : launchDecodeAttentionTc(ctx(h)->stream, p<bf16>(out), p<float>(part), p<int>(counters),
                                            p<bf16>(q), ldq, p<bf16>(kc), p<bf16>(vc), p<int>(tokSeq), p<int>(pos),
                                            p<int>(tables), stride, blockSize, rows, heads, kvHeads, headDim, scale,
                                            partition, splits);
  if (!ok) return JNI_FALSE;
  launched(env, "decode attention (tensor cores)");
  return JNI_TRUE;
}

// Paged causal attention for prefill rows on the tensor cores (FlashAttention-2 style), and the launcher that splits
// a step's rows between it (prefill segments) and the decode kernels of attention.cu (every other row).
#include "common.cuh"
#include "attention.cuh"
#include "mma_tiles.cuh"
#include <algorithm>
#include <string>
#include <vector>
#include "kv_cache.cuh"

namespace {

constexpr int PF_BM = 64;       // M rows of a block: (query token, query head) pairs, 16 per warp
constexpr int PF_BN = 64;       // keys per K/V tile
constexpr int PF_THREADS = 128;  // 4 warps

// the cp.async / ldmatrix / MMA / swizzle helpers, shared with the tensor-core decode attention
using namespace mma;

/**
 * Maps this block to its tile: block y counts the tiles of the segments in order (a segment of n rows has
 * ceil(n / tm) tiles), heaviest tile of a segment first (its last rows see the most keys). Every warp scans the
 * segment list on its own, 32 segments at a time with a warp prefix sum, so no block-wide barrier is needed.
 */
__device__ __forceinline__ bool findTile(const int* segs, int nseg, int tm, int& row0, int& rows) {
  int lane = threadIdx.x & 31, target = blockIdx.y, base = 0;
  for (int s0 = 0; s0 < nseg; s0 += 32) {
    int s = s0 + lane;
    int n = s < nseg ? segs[2 * s + 1] : 0;
    int tiles = (n + tm - 1) / tm, x = tiles;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      int y = __shfl_up_sync(0xffffffffu, x, o);
      if (lane >= o) x += y;
    }
    int total = __shfl_sync(0xffffffffu, x, 31);
    if (target < base + total) {
      unsigned hit = __ballot_sync(0xffffffffu, base + x > target);
      int l = __ffs(hit) - 1;
      int segRow = __shfl_sync(0xffffffffu, s < nseg ? segs[2 * s] : 0, l);
      int segLen = __shfl_sync(0xffffffffu, n, l);
      int segTiles = __shfl_sync(0xffffffffu, tiles, l);
      int local = target - (base + __shfl_sync(0xffffffffu, x, l) - segTiles);
      int tile = segTiles - 1 - local;
      row0 = segRow + tile * tm;
      rows = min(tm, segLen - tile * tm);
      return true;
    }
    base += total;
  }
  return false;
}

/**
 * Causal attention of a tile of one sequence's query rows, on the tensor cores. Block (KV head · hgb + hb, tile):
 * its 64 M rows are (query token, query head) pairs, token-major: HB = min(G, 64) consecutive query heads of the KV
 * head (block hb of them) for each of TM = 64 / HB consecutive query rows of a prefill segment (segs: (first row,
 * rows) pairs). So all query heads of a KV head share each K/V tile, and a decode-sized group (G = 16) still fills
 * the MMAs with 4 tokens. Keys 0..max pos of the tile's rows, read from the paged cache through the sequence's block
 * table (any block size) into shared memory, 64 at a time, double-buffered with cp.async; row m sees key p iff
 * p <= pos[row of m]. Each warp holds 16 M rows: Q as MMA A fragments, S = Q·Kᵀ (m16n8k16 bf16 → fp32), the online
 * softmax in registers (exp2 with the scale folded in), P rounded to bf16 in registers as the A operand of P·V (V
 * fragments by ldmatrix.trans), O (16 × D) in fp32 registers; out = O / l, rounded to bf16 once.
 */
template <int D, typename KV>
__global__ void __launch_bounds__(PF_THREADS) prefillAttentionK(bf16* out, const bf16* q, int ldq, const KV* kc,
    const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int heads,
    int kvHeads, int group, int hgb, float scale, const int* segs, int nseg) {
  pdlTrigger();
  pdlWait();
  constexpr int CH = D / 8;                  // 16-byte chunks per row
  constexpr int RPP = PF_THREADS / CH;       // rows per pass of the block's loads
  constexpr int KSTEPS = D / 16;             // k steps of Q·Kᵀ
  constexpr int DN = D / 8;                  // n blocks of P·V
  extern __shared__ __align__(16) unsigned char smemRaw[];
  bf16* qs = (bf16*)smemRaw;                 // PF_BM × D
  bf16* ks = qs + PF_BM * D;                 // 2 × PF_BN × D
  bf16* vs = ks + 2 * PF_BN * D;             // 2 × PF_BN × D
  __shared__ int posOf[PF_BM];
  const int HB = min(group, PF_BM), TM = PF_BM / HB;
  int row0, rows;
  if (!findTile(segs, nseg, TM, row0, rows)) return;
  int kh = blockIdx.x / hgb, hb = blockIdx.x - kh * hgb;
  int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  if (tid < TM) posOf[tid] = tid < rows ? pos[row0 + tid] : -1;
  const int* table = tables + (size_t)tokSeq[row0] * stride;
  size_t rowStride = (size_t)kvHeads * D;
  const KV* kbase = kc + (size_t)kh * D;
  const KV* vbase = vc + (size_t)kh * D;
  // Q: M row m = (token m / HB, head hb·HB + m % HB), zeros for rows past the tile or the group
  for (int i = tid; i < PF_BM * CH; i += PF_THREADS) {
    int m = i / CH, c = i - m * CH, tq = m / HB, g = hb * HB + (m - tq * HB);
    bool valid = tq < rows && g < group && m < TM * HB;
    const bf16* src = q + (size_t)(row0 + (valid ? tq : 0)) * ldq + (size_t)(kh * group + (valid ? g : 0)) * D + c * 8;
    cpAsync16(qs + swz<D>(m, c), src, valid);
  }
  cpAsyncCommit();
  __syncthreads();  // posOf
  int maxPos = -1, minPos = 0x7fffffff;
  for (int i = 0; i < TM; i++) {
    int p = posOf[i];
    if (p >= 0) {
      maxPos = max(maxPos, p);
      minPos = min(minPos, p);
    }
  }
  int nTiles = (maxPos + PF_BN) / PF_BN;  // keys 0..maxPos
  // The slots of a tile's key rows (this thread's rows: tid / CH + i·RPP), -1 past maxPos. They are read one tile
  // ahead of the copies that use them, so the block-table loads' latency hides behind a tile of MMAs.
  constexpr int LR = PF_BN / RPP;  // key rows per thread and tile
  int slotNext[LR];
  auto slotsOf = [&](int tile) {
#pragma unroll
    for (int i = 0; i < LR; i++) {
      int p = tile * PF_BN + tid / CH + i * RPP;
      slotNext[i] = p <= maxPos ? table[p / blockSize] * blockSize + p % blockSize : -1;
    }
  };
  // bf16: a tile's rows go to shared memory by cp.async; E4M3: loadKv fetches the codes into registers and storeKv,
  // after the current tile's MMAs, writes them to shared memory as bf16 (exact), in the same swizzled layout
  KvRaw8<KV> kreg[sizeof(KV) == 1 ? LR : 1], vreg[sizeof(KV) == 1 ? LR : 1];
  auto loadKv = [&](int buf) {  // the copies of the tile whose slots slotNext holds
    int c = tid % CH;
#pragma unroll
    for (int i = 0; i < LR; i++) {
      int r = tid / CH + i * RPP;
      bool valid = slotNext[i] >= 0;
      size_t off = (size_t)(valid ? slotNext[i] : 0) * rowStride + c * 8;
      if constexpr (sizeof(KV) == 2) {
        cpAsync16(ks + buf * PF_BN * D + swz<D>(r, c), kbase + off, valid);
        cpAsync16(vs + buf * PF_BN * D + swz<D>(r, c), vbase + off, valid);
      } else {
        kreg[i] = valid ? __ldg((const uint2*)(kbase + off)) : make_uint2(0, 0);
        vreg[i] = valid ? __ldg((const uint2*)(vbase + off)) : make_uint2(0, 0);
      }
    }
  };
  auto storeKv = [&](int buf) {
    if constexpr (sizeof(KV) == 1) {
      storeKvTile<D, LR, CH, RPP>(ks + buf * PF_BN * D, vs + buf * PF_BN * D, kreg, vreg, tid);
    }
  };
  slotsOf(0);
  loadKv(0);
  storeKv(0);
  cpAsyncCommit();
  if (nTiles > 1) slotsOf(1);
  cpAsyncWait<1>();  // Q landed
  __syncthreads();
  unsigned qf[KSTEPS][4];
#pragma unroll
  for (int kk = 0; kk < KSTEPS; kk++) ldmatrix4(qf[kk], qs + swz<D>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));
  // this thread's two M rows: lane / 4 and lane / 4 + 8 of the warp's 16
  int mr0 = warp * 16 + (lane >> 2), mr1 = mr0 + 8;
  int pos0 = mr0 < TM * HB && hb * HB + mr0 % HB < group ? posOf[mr0 / HB] : -1;
  int pos1 = mr1 < TM * HB && hb * HB + mr1 % HB < group ? posOf[mr1 / HB] : -1;
  const float sl2 = scale * 1.4426950408889634f;  // scores in log2 units
  float o[DN][4];
#pragma unroll
  for (int n = 0; n < DN; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m0 = -CUDART_INF_F, m1 = -CUDART_INF_F, l0 = 0.f, l1 = 0.f;
  for (int j = 0; j < nTiles; j++) {
    if (j + 1 < nTiles) loadKv((j + 1) & 1);
    cpAsyncCommit();
    if (j + 2 < nTiles) slotsOf(j + 2);
    cpAsyncWait<1>();
    __syncthreads();
    const bf16* kt = ks + (j & 1) * PF_BN * D;
    const bf16* vt = vs + (j & 1) * PF_BN * D;
    float s[PF_BN / 8][4];
#pragma unroll
    for (int n = 0; n < PF_BN / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KSTEPS; kk++) {
#pragma unroll
      for (int n = 0; n < PF_BN / 8; n += 2) {
        unsigned b[4];  // b0 b1 of key block n, then of n + 1
        ldmatrix4(b, kt + swz<D>(n * 8 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
        mma16816(s[n], qf[kk], b[0], b[1]);
        mma16816(s[n + 1], qf[kk], b[2], b[3]);
      }
    }
    int k0 = j * PF_BN;
    bool mask = k0 + PF_BN - 1 > minPos;  // some key of the tile is after some row's position
    float mx0 = m0, mx1 = m1;
#pragma unroll
    for (int n = 0; n < PF_BN / 8; n++) {
      int p = k0 + n * 8 + (lane & 3) * 2;
      if (mask) {
        if (p > pos0) s[n][0] = -CUDART_INF_F;
        if (p + 1 > pos0) s[n][1] = -CUDART_INF_F;
        if (p > pos1) s[n][2] = -CUDART_INF_F;
        if (p + 1 > pos1) s[n][3] = -CUDART_INF_F;
      }
      mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));
      mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));
    }
#pragma unroll
    for (int o2 = 1; o2 < 4; o2 <<= 1) {  // the 4 lanes of a row
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o2));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o2));
    }
    // a row that has seen no key yet keeps max -inf: its factors use 0 instead, so exp2 gives 0, never NaN
    float b0 = mx0 == -CUDART_INF_F ? 0.f : mx0 * sl2, b1 = mx1 == -CUDART_INF_F ? 0.f : mx1 * sl2;
    float c0 = exp2f(m0 * sl2 - b0), c1 = exp2f(m1 * sl2 - b1);  // m = -inf: 0
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
    unsigned pf[PF_BN / 16][4];  // P as A fragments: key block 2i gives a0..a3, 2i + 1 gives a4..a7
#pragma unroll
    for (int n = 0; n < PF_BN / 8; n++) {
      float p0 = exp2f(s[n][0] * sl2 - b0), p1 = exp2f(s[n][1] * sl2 - b0);
      float p2 = exp2f(s[n][2] * sl2 - b1), p3 = exp2f(s[n][3] * sl2 - b1);
      l0 += p0 + p1;
      l1 += p2 + p3;
      pf[n >> 1][(n & 1) * 2] = packBf2(p0, p1);
      pf[n >> 1][(n & 1) * 2 + 1] = packBf2(p2, p3);
    }
#pragma unroll
    for (int kk = 0; kk < PF_BN / 16; kk++) {
#pragma unroll
      for (int n = 0; n < DN; n += 2) {
        unsigned b[4];  // b0 b1 of channel block n, then of n + 1
        ldmatrix4T(b, vt + swz<D>(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), n + (lane >> 4)));
        mma16816(o[n], pf[kk], b[0], b[1]);
        mma16816(o[n + 1], pf[kk], b[2], b[3]);
      }
    }
    // E4M3: the next tile into the buffer that tile j - 1 used (every warp finished it before this iteration's
    // first barrier); the barrier below makes it visible
    if (j + 1 < nTiles) storeKv((j + 1) & 1);
    __syncthreads();  // the tile's buffers are refilled two iterations on
  }
  cpAsyncWait<0>();
#pragma unroll
  for (int o2 = 1; o2 < 4; o2 <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, o2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, o2);
  }
  size_t ldo = (size_t)heads * D;
#pragma unroll
  for (int half = 0; half < 2; half++) {
    int mr = half ? mr1 : mr0;
    if ((half ? pos1 : pos0) < 0) continue;
    float inv = 1.f / (half ? l1 : l0);
    int tq = mr / HB, g = hb * HB + mr % HB;
    bf16* dst = out + (size_t)(row0 + tq) * ldo + (size_t)(kh * group + g) * D + (lane & 3) * 2;
#pragma unroll
    for (int n = 0; n < DN; n++) {
      __nv_bfloat162 v = __floats2bfloat162_rn(o[n][half * 2] * inv, o[n][half * 2 + 1] * inv);
      *(__nv_bfloat162*)(dst + n * 8) = v;
    }
  }
}

template <int D, typename KV>
void launchPrefill(cudaStream_t s, bf16* out, const bf16* q, int ldq, const KV* kc, const KV* vc,
                   const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int heads,
                   int kvHeads, float scale, const int* devSegs, int nseg, int tiles) {
  constexpr size_t smem = (size_t)(PF_BM + 4 * PF_BN) * D * 2;
  // above the default 48 KiB: allowed per launch, since the attribute belongs to the device current now
  cudaFuncSetAttribute(prefillAttentionK<D, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  int group = heads / kvHeads, hb = std::min(group, PF_BM), hgb = (group + hb - 1) / hb;
  // the heads vary fastest, so every KV head's heaviest tiles are scheduled first
  launchKs(true, prefillAttentionK<D, KV>, dim3(kvHeads * hgb, tiles), PF_THREADS, smem, s, out, q, ldq, kc, vc, tokSeq,
           pos, tables, stride, blockSize, heads, kvHeads, group, hgb, scale, devSegs, nseg);
}

}  // namespace

bool prefillAttentionSupported(int heads, int kvHeads, int headDim) {
  return kvHeads >= 1 && heads >= kvHeads && heads % kvHeads == 0 && (headDim == 128 || headDim == 64);
}

std::string prefillAttentionKernelName(int heads, int kvHeads, int headDim) {
  int group = heads / kvHeads, hb = std::min(group, PF_BM);
  return "prefillAttentionK<D=" + std::to_string(headDim) + "> (" + std::to_string(PF_BM / hb) + " tokens x " +
         std::to_string(hb) + " heads per block, " + std::to_string((group + hb - 1) / hb) + " blocks per KV head)";
}

template <typename KV>
static bool attentionMixedOf(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                             const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables,
                             int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                             int partition, int splits, const int* hostSegs, const int* devSegs, int nseg) {
  // 16-byte cp.async of q rows needs ldq and q 16-byte aligned (the KV cache and out are)
  if (nseg <= 0 || !prefillAttentionSupported(heads, kvHeads, headDim) || ldq % 8 != 0 ||
      (reinterpret_cast<uintptr_t>(q) & 15) != 0) {
    return launchAttention(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows,
                           heads, kvHeads, headDim, scale, partition, splits);
  }
  int group = heads / kvHeads, tm = PF_BM / std::min(group, PF_BM), tiles = 0;
  std::vector<std::pair<int, int>> covered;  // the segments' rows, in order
  for (int i = 0; i < nseg; i++) {
    int r0 = hostSegs[2 * i], n = hostSegs[2 * i + 1];
    if (r0 < 0 || n < 1 || r0 + n > rows) return false;
    covered.push_back({r0, n});
    tiles += (n + tm - 1) / tm;
  }
  if (tiles > 65535) {  // more tiles than a grid's y dimension: the decode kernels serve the step
    return launchAttention(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows,
                           heads, kvHeads, headDim, scale, partition, splits);
  }
  std::sort(covered.begin(), covered.end());
  // the rows between segments (decode rows, short chunks, graph padding): the decode kernels, one launch per run
  size_t rowParts = (size_t)heads * splits * (headDim + 2);
  int at = 0;
  for (size_t i = 0; i <= covered.size(); i++) {
    int end = i < covered.size() ? covered[i].first : rows;
    if (end < at) return false;  // overlapping segments
    if (end > at &&
        !launchAttention(s, out + (size_t)at * heads * headDim, part == nullptr ? nullptr : part + at * rowParts,
                         counters == nullptr ? nullptr : counters + (size_t)at * heads, q + (size_t)at * ldq, ldq, kc,
                         vc, tokSeq + at, pos + at, tables, stride, blockSize, end - at, heads, kvHeads, headDim,
                         scale, partition, splits)) {
      return false;
    }
    if (i < covered.size()) at = covered[i].first + covered[i].second;
  }
  if (headDim == 128) {
    launchPrefill<128, KV>(s, out, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, heads, kvHeads, scale,
                       devSegs, nseg, tiles);
  } else {
    launchPrefill<64, KV>(s, out, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, heads, kvHeads, scale,
                      devSegs, nseg, tiles);
  }
  return true;
}

bool launchAttentionMixed(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                          const bf16* kc, const bf16* vc, const int* tokSeq, const int* pos, const int* tables,
                          int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                          int partition, int splits, const int* hostSegs, const int* devSegs, int nseg) {
  return attentionMixedOf(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                          kvHeads, headDim, scale, partition, splits, hostSegs, devSegs, nseg);
}

bool launchAttentionMixed(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                          const kv8* kc, const kv8* vc, const int* tokSeq, const int* pos, const int* tables,
                          int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                          int partition, int splits, const int* hostSegs, const int* devSegs, int nseg) {
  return attentionMixedOf(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                          kvHeads, headDim, scale, partition, splits, hostSegs, devSegs, nseg);
}

// Paged causal attention: attentionK (cuda.attnVariant=1), the chunked attention2K (the default), attentionAnyK
// (any query heads per KV head, headDim up to 256) and the split merge attentionCombineK. attention_plan.cu picks the
// kernel of a shape.
#include "common.cuh"
#include "attention.cuh"
#include "kv_cache.cuh"

namespace {


/** Positions per split when the split count is fixed and the partition follows the context (graph steps). */
__device__ __forceinline__ int dynPartition(int visible, int splits) {
  return ((visible + splits - 1) / splits + 31) / 32 * 32;
}

/** Most splits the attention kernel merges itself (more: attentionCombineK). */
constexpr int MAX_FUSED_SPLITS = 256;

/**
 * DPL consecutive elements of a K or V row (zeros past headDim): one load of DPL elements (8/4/2 bytes of bf16,
 * 4/2 of E4M3) when the row splits evenly.
 */
template <int DPL, typename KV>
__device__ __forceinline__ void loadKv(KV (&r)[DPL], const KV* p, int d0, int headDim, bool vec) {
  if (vec && d0 < headDim) {
    if constexpr (DPL == 4 && sizeof(KV) == 2) {
      uint2 u = __ldg((const uint2*)p);
      memcpy(r, &u, 8);
    } else if constexpr ((DPL == 2 && sizeof(KV) == 2) || (DPL == 4 && sizeof(KV) == 1)) {
      unsigned u = __ldg((const unsigned*)p);
      memcpy(r, &u, 4);
    } else if constexpr (DPL == 2) {
      unsigned short u = __ldg((const unsigned short*)p);
      memcpy(r, &u, 2);
    } else {
      r[0] = p[0];
    }
    return;
  }
#pragma unroll
  for (int j = 0; j < DPL; j++) r[j] = d0 + j < headDim ? p[j] : toKv<KV>(0.f);
}

/**
 * Paged causal attention. Block (token t, KV head, split) reads positions [split·partition, +partition) ∩
 * [0, pos[t]] of its sequence and serves the G query heads of that KV head; each warp walks every NW-th position
 * with an online softmax, lanes holding DPL channels each. A warp loads the block-table entries and then the K and V
 * rows of C positions before it uses the first, so a chunk costs two memory latencies rather than two per position.
 * With one split the block writes the output; otherwise it writes (max, sum, acc) partials that attentionCombineK
 * merges. The first attention kernel (cuda.attnVariant=1), kept for headDim not a multiple of 8 and for A/B runs.
 */
template <int G, int DPL, typename KV>
__global__ void __launch_bounds__(128) attentionK(bf16* out, float* part, const bf16* q, int ldq,
    const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
    int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  pdlTrigger();
  pdlWait();
  constexpr int NW = 4;
  constexpr int C = 4;
  __shared__ float sm[NW][G], sl[NW][G];
  __shared__ float sacc[NW][G][DPL * 32];
  int t = blockIdx.x, kh = blockIdx.y, sp = blockIdx.z;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int visible = pos[t] + 1;
  int used = splits;  // splits that write partials for this token
  if (partition == 0) { // dynamic (graph steps): this token's context split evenly over the splits, 32-aligned
    partition = dynPartition(visible, splits);
    used = (visible + partition - 1) / partition;
    if (sp >= used) return; // unused split: nobody waits for it
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
  bool vec = headDim % DPL == 0;
  int d0 = lane * DPL;
  for (int base = start + warp; base < end; base += NW * C) {
    KV kr[C][DPL], vr[C][DPL];
#pragma unroll
    for (int c = 0; c < C; c++) {
      int p = min(base + c * NW, end - 1);
      size_t slot = (size_t)table[p / blockSize] * blockSize + p % blockSize;
      size_t off = slot * rowStride + kh * headDim + d0;
      loadKv<DPL>(kr[c], kc + off, d0, headDim, vec);
      loadKv<DPL>(vr[c], vc + off, d0, headDim, vec);
    }
#pragma unroll
    for (int c = 0; c < C; c++) {
      if (base + c * NW >= end) break;
      float kv[DPL], vv[DPL];
#pragma unroll
      for (int j = 0; j < DPL; j++) {
        kv[j] = kvf(kr[c][j]);
        vv[j] = kvf(vr[c][j]);
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
  }
#pragma unroll
  for (int g = 0; g < G; g++) {
    if (lane == 0) { sm[warp][g] = m[g]; sl[warp][g] = l[g]; }
#pragma unroll
    for (int j = 0; j < DPL; j++) sacc[warp][g][lane * DPL + j] = acc[g][j];
  }
  __syncthreads();
  // the warps' merge factors, once per head: f[w] = exp(M_w − M) (0 when the head saw nothing), L = Σ L_w·f[w]
  if (threadIdx.x < G) {
    int g = threadIdx.x;
    float M = -CUDART_INF_F;
    for (int w = 0; w < NW; w++) M = fmaxf(M, sm[w][g]);
    float L = 0.f;
    for (int w = 0; w < NW; w++) {
      float f = M != -CUDART_INF_F ? __expf(sm[w][g] - M) : 0.f;
      L += sl[w][g] * f;
      sm[w][g] = f;
    }
    sl[0][g] = M;
    sl[1][g] = L;
  }
  __syncthreads();
  size_t unitFloats = (size_t)G * (headDim + 2);
  size_t unit0 = ((size_t)t * kvHeads + kh) * splits;  // partials of (t, kh): `splits` slots, `used` written
  for (int e = threadIdx.x; e < G * headDim; e += blockDim.x) {
    int g = e / headDim, d = e - g * headDim;
    float A = 0.f;
    for (int w = 0; w < NW; w++) A += sacc[w][g][d] * sm[w][g];
    if (splits == 1) {
      out[(size_t)t * heads * headDim + (kh * G + g) * headDim + d] = tobf(A / sl[1][g]);
    } else {
      float* u = part + (unit0 + sp) * unitFloats;
      u[g * headDim + d] = A;
      if (d == 0) {
        u[G * headDim + 2 * g] = sl[0][g];
        u[G * headDim + 2 * g + 1] = sl[1][g];
      }
    }
  }
}

/**
 * Merges the partials of the `used` splits of (t, kh) into out, for the last block of (t, kh) to finish: per-split
 * (M, L) into shared memory in parallel, one thread per head turns them into factors, then each thread sums its
 * elements over the splits with independent loads (the arithmetic of attentionCombineK). fs, ls: G rows of
 * MERGE_STRIDE floats each (the odd stride keeps the per-head rows in different banks).
 */
constexpr int MERGE_STRIDE = MAX_FUSED_SPLITS + 1;

template <int G, int E>
__device__ void mergeSplits(bf16* out, const float* part, size_t unit0, int used, int heads, int kh, int t,
                            int headDim, float* fs, float* ls) {
  size_t unitFloats = (size_t)G * (headDim + 2);
  int gk[E];  // head of each of this thread's elements
#pragma unroll
  for (int k = 0; k < E; k++) gk[k] = (threadIdx.x + k * blockDim.x) / headDim;
  for (int i = threadIdx.x; i < G * used; i += blockDim.x) {
    int g = i / used, s2 = i - g * used;
    const float* ml = part + (unit0 + s2) * unitFloats + G * headDim + 2 * g;
    fs[g * MERGE_STRIDE + s2] = __ldcg(ml);
    ls[g * MERGE_STRIDE + s2] = __ldcg(ml + 1);
  }
  __syncthreads();
  if (threadIdx.x < G) {
    int g = threadIdx.x;
    float* f = fs + g * MERGE_STRIDE;
    float M = -CUDART_INF_F;
    for (int s2 = 0; s2 < used; s2++) M = fmaxf(M, f[s2]);
    float L = 0.f;
    for (int s2 = 0; s2 < used; s2++) {
      float ms = f[s2];
      float fac = 0.f;
      if (ms != -CUDART_INF_F) {
        fac = __expf(ms - M);
        L += ls[g * MERGE_STRIDE + s2] * fac;
      }
      f[s2] = fac;
    }
    ls[g * MERGE_STRIDE] = L;
  }
  __syncthreads();
  float A[E];
#pragma unroll
  for (int k = 0; k < E; k++) A[k] = 0.f;
  // All E loads of a split are issued before any is used (a split that saw nothing has factor 0 and zero sums), and
  // the loop is unrolled so that several splits' loads are in flight; the sums still add in split order.
#pragma unroll 4
  for (int s2 = 0; s2 < used; s2++) {
    const float* u = part + (unit0 + s2) * unitFloats;
    float v[E];
#pragma unroll
    for (int k = 0; k < E; k++) {
      int e = threadIdx.x + k * blockDim.x;
      v[k] = e < G * headDim ? __ldcg(u + e) : 0.f;
    }
#pragma unroll
    for (int k = 0; k < E; k++) {
      if (gk[k] < G) A[k] += v[k] * fs[gk[k] * MERGE_STRIDE + s2];
    }
  }
#pragma unroll
  for (int k = 0; k < E; k++) {
    int e = threadIdx.x + k * blockDim.x;
    if (e < G * headDim) {
      int g = gk[k], d = e - g * headDim;
      out[(size_t)t * heads * headDim + (kh * G + g) * headDim + d] = tobf(A[k] / ls[g * MERGE_STRIDE]);
    }
  }
}

/**
 * Paged causal attention, second kernel (headDim a multiple of 8, at most 128). Block (token t, KV head, split) as
 * attentionK, but the 4 warps split the G query heads (GW each) instead of the positions, and walk the block's
 * positions 32 at a time: (1) each lane takes one position, loads its whole K row (16-byte loads) and computes the
 * scores of the warp's heads against q held in shared memory; (2) the chunk's max and sum per head take two warp
 * reductions, where attentionK needs one per position and head; (3) lanes switch to channels and accumulate P·V
 * over the chunk's V rows. No cross-warp merge; splits merge as in attentionK.
 */
template <int G, int DPL, bool HG, typename KV>
__global__ void __launch_bounds__(128) attention2K(bf16* out, float* part, int* counters, const bf16* q, int ldq,
    const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
    int heads, int kvHeads, int headDim, float scale, int partition, int splits, int hg) {
  // HG: each KV head's query heads are split over hg blocks of G each (more blocks for small batches); kh and kvHeads
  // then count those blocks (kh / hg is the KV head), so q, out and the split partials index as before. A template
  // flag, so that the kernels without it keep their registers (the division costs 11 at G = 16).
  pdlTrigger();
  pdlWait();
  constexpr int NW = 4;
  constexpr int GW = (G + NW - 1) / NW;  // heads per warp
  constexpr int HD = DPL * 32;          // headDim rounded up
  constexpr int COMB = 2 * G * MERGE_STRIDE;
  __shared__ __align__(16) float qs[G][HD];
  __shared__ __align__(16) float ps[NW][GW][32];
  __shared__ int slotOf[NW][32];
  __shared__ float comb[COMB];
  __shared__ int lastBlock;
  int t = blockIdx.x, kh = blockIdx.y, sp = blockIdx.z;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int visible = pos[t] + 1;
  int used = splits;
  if (partition == 0) {
    partition = dynPartition(visible, splits);
    used = (visible + partition - 1) / partition;
    if (sp >= used) return;
  }
  int start = sp * partition;
  int end = min(visible, start + partition);
  const int* table = tables + (size_t)tokSeq[t] * stride;
  size_t rowStride = (size_t)(HG ? kvHeads / hg : kvHeads) * headDim;
  size_t headOff = (size_t)(HG ? kh / hg : kh) * headDim;
  {
    constexpr int QE = (G * HD + 127) / 128;  // q elements per thread (blockDim is 128): loads issued together
    float qv[QE];
#pragma unroll
    for (int k = 0; k < QE; k++) {
      int e = threadIdx.x + k * 128, g = e / HD, d = e - g * HD;
      qv[k] = e < G * HD && d < headDim ? bf(q[(size_t)t * ldq + (kh * G + g) * headDim + d]) : 0.f;
    }
    if (warp == 0 && start < end) {  // the first chunk's K and V rows start on their way to L2 meanwhile
      int p0 = min(start + lane, end - 1);
      size_t off = ((size_t)table[p0 / blockSize] * blockSize + p0 % blockSize) * rowStride + headOff;
      for (int b = 0; b < headDim * (int)sizeof(KV); b += 128) {
        asm volatile("prefetch.global.L2 [%0];" ::"l"((const char*)(kc + off) + b));
        asm volatile("prefetch.global.L2 [%0];" ::"l"((const char*)(vc + off) + b));
      }
    }
#pragma unroll
    for (int k = 0; k < QE; k++) {
      int e = threadIdx.x + k * 128;
      if (e < G * HD) qs[e / HD][e % HD] = qv[k] * scale;
    }
  }
  __syncthreads();
  int g0 = warp * GW;
  float m[GW], l[GW], acc[GW][DPL];
#pragma unroll
  for (int g = 0; g < GW; g++) {
    m[g] = -CUDART_INF_F;
    l[g] = 0.f;
#pragma unroll
    for (int j = 0; j < DPL; j++) acc[g][j] = 0.f;
  }
  int d0 = lane * DPL;
  bool live = g0 < G;
  for (int c0 = start; live && c0 < end; c0 += 32) {
    // (1) scores: lane = position
    int p = c0 + lane;
    bool valid = p < end;
    int pp = valid ? p : c0;
    int slot = table[pp / blockSize] * blockSize + pp % blockSize;
    slotOf[warp][lane] = slot;
    const KvRaw8<KV>* kp = (const KvRaw8<KV>*)(kc + (size_t)slot * rowStride + headOff);
    float sc[GW];
#pragma unroll
    for (int g = 0; g < GW; g++) sc[g] = 0.f;
    KvRaw8<KV> kraw[HD / 8];  // the whole K row, loaded before any is used
#pragma unroll
    for (int v = 0; v < HD / 8; v++) kraw[v] = v * 8 < headDim ? __ldg(kp + v) : KvRaw8<KV>{};

#pragma unroll
    for (int v = 0; v < HD / 8; v++) {
      if (v * 8 < headDim) {
        float kf[8];
        unpackKv8(kraw[v], kf);
#pragma unroll
        for (int g = 0; g < GW; g++) {
          if (g0 + g < G) {
            float4 qa = *(const float4*)&qs[g0 + g][v * 8];
            float4 qb = *(const float4*)&qs[g0 + g][v * 8 + 4];
            sc[g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] +
                     qb.z * kf[6] + qb.w * kf[7];
          }
        }
      }
    }
    // (2) online softmax over the chunk, per head
#pragma unroll
    for (int g = 0; g < GW; g++) {
      float s = valid ? sc[g] : -CUDART_INF_F;
      float mx = s;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      float mn = fmaxf(m[g], mx);
      float corr = __expf(m[g] - mn);
      float pr = valid ? __expf(s - mn) : 0.f;
      l[g] = l[g] * corr + warpSum(pr);
      m[g] = mn;
      ps[warp][g][lane] = pr;
#pragma unroll
      for (int j = 0; j < DPL; j++) acc[g][j] *= corr;
    }
    __syncwarp();
    // (3) P·V: lane = channels
    int n = min(32, end - c0);
    for (int i0 = 0; i0 < n; i0 += 16) {
      KV vr[16][DPL];
#pragma unroll
      for (int i = 0; i < 16; i++) {
        int ii = min(i0 + i, n - 1);
        loadKv<DPL>(vr[i], vc + (size_t)slotOf[warp][ii] * rowStride + headOff + d0, d0, headDim, true);
      }
#pragma unroll
      for (int i = 0; i < 16; i++) {
        if (i0 + i < n) {
#pragma unroll
          for (int g = 0; g < GW; g++) {
            float pr = ps[warp][g][i0 + i];
#pragma unroll
            for (int j = 0; j < DPL; j++) acc[g][j] += pr * kvf(vr[i][j]);
          }
        }
      }
    }
    __syncwarp();
  }
  size_t unitFloats = (size_t)G * (headDim + 2);
  size_t unit0 = ((size_t)t * kvHeads + kh) * splits;
  // the output directly when no merge follows: one split, or one in use and this kernel merges (with no counters,
  // attentionCombineK reads every split's partials)
  bool direct = splits == 1 || (used == 1 && counters != nullptr);
  if (live) {
#pragma unroll
    for (int g = 0; g < GW; g++) {
      int gh = g0 + g;
      if (gh >= G) continue;
#pragma unroll
      for (int j = 0; j < DPL; j++) {
        int d = d0 + j;
        if (d >= headDim) continue;
        if (direct) {
          out[(size_t)t * heads * headDim + (kh * G + gh) * headDim + d] = tobf(acc[g][j] / l[g]);
        } else {
          float* u = part + (unit0 + sp) * unitFloats;
          u[gh * headDim + d] = acc[g][j];
          if (d == 0) {
            u[G * headDim + 2 * gh] = m[g];
            u[G * headDim + 2 * gh + 1] = l[g];
          }
        }
      }
    }
  }
  if (direct || counters == nullptr) return;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    int* c = counters + (size_t)t * kvHeads + kh;
    lastBlock = atomicAdd(c, 1) == used - 1;
    if (lastBlock) *c = 0;
  }
  __syncthreads();
  if (!lastBlock) return;
  __threadfence();
  mergeSplits<G, (G * HD + 127) / 128>(out, part, unit0, used, heads, kh, t, headDim, comb,
                                        comb + G * MERGE_STRIDE);
}

__global__ void attentionCombineK(bf16* out, const float* part, int heads, int kvHeads, int headDim, int group,
                                  int splits, const int* pos, int dynamic) {
  pdlTrigger();
  pdlWait();
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

/**
 * Paged causal attention for any query heads per KV head and any headDim up to ANY_MAX_HEAD_DIM: the fallback of the
 * shapes that no attention2K / attentionK variant covers. Block (token t, 4 consecutive query heads, split): warp w
 * serves query head 4·blockIdx.y + w over positions [split·partition, +partition) ∩ [0, pos[t]], 32 at a time, as
 * attention2K does with one head: lanes take one position each for the scores (q in shared memory), the chunk's max
 * and sum take two warp reductions, then lanes take channels lane, lane + 32, … for P·V. A unit of partials is one
 * query head (units = heads), which attentionCombineK merges with group 1.
 */
template <typename KV>
__global__ void __launch_bounds__(128) attentionAnyK(bf16* out, float* part, const bf16* q, int ldq,
    const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
    int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  pdlTrigger();
  pdlWait();
  constexpr int DPL = ANY_MAX_HEAD_DIM / 32;
  __shared__ float qs[4][ANY_MAX_HEAD_DIM];
  __shared__ float ps[4][32];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int t = blockIdx.x, h = blockIdx.y * 4 + warp, sp = blockIdx.z;
  int visible = pos[t] + 1;
  if (partition == 0) {
    partition = dynPartition(visible, splits);
    if (sp * partition >= visible) return;  // a split past this token's context: attentionCombineK skips it
  }
  if (h >= heads) return;  // warps only ever synchronize among their own lanes
  int start = sp * partition;
  int end = min(visible, start + partition);
  const bf16* qh = q + (size_t)t * ldq + (size_t)h * headDim;
  for (int d = lane; d < headDim; d += 32) qs[warp][d] = bf(qh[d]) * scale;
  __syncwarp();
  const int* table = tables + (size_t)tokSeq[t] * stride;
  size_t rowStride = (size_t)kvHeads * headDim;
  size_t headOff = (size_t)(h / (heads / kvHeads)) * headDim;
  bool vec = headDim % 8 == 0;  // 16-byte aligned rows
  float m = -CUDART_INF_F, l = 0.f, acc[DPL];
#pragma unroll
  for (int j = 0; j < DPL; j++) acc[j] = 0.f;
  for (int c0 = start; c0 < end; c0 += 32) {
    int p = c0 + lane;
    bool valid = p < end;
    int pp = valid ? p : c0;
    int slot = table[pp / blockSize] * blockSize + pp % blockSize;
    const KV* kr = kc + (size_t)slot * rowStride + headOff;
    float s = 0.f;
    if (vec) {
      for (int d = 0; d < headDim; d += 8) {
        float kf[8];
        unpackKv8(__ldg((const KvRaw8<KV>*)(kr + d)), kf);
#pragma unroll
        for (int i = 0; i < 8; i++) s += qs[warp][d + i] * kf[i];
      }
    } else {
      for (int d = 0; d < headDim; d++) s += qs[warp][d] * kvf(kr[d]);
    }
    s = valid ? s : -CUDART_INF_F;
    float mx = s;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float mn = fmaxf(m, mx);  // finite: lane 0's position is in range
    float corr = __expf(m - mn);
    float pr = valid ? __expf(s - mn) : 0.f;
    l = l * corr + warpSum(pr);
    m = mn;
    ps[warp][lane] = pr;
#pragma unroll
    for (int j = 0; j < DPL; j++) acc[j] *= corr;
    __syncwarp();
    int n = min(32, end - c0);
    for (int i = 0; i < n; i++) {
      const KV* vr = vc + (size_t)__shfl_sync(0xffffffffu, slot, i) * rowStride + headOff;
      float pi = ps[warp][i];
#pragma unroll
      for (int j = 0; j < DPL; j++) {
        int d = lane + 32 * j;
        if (d < headDim) acc[j] += pi * kvf(vr[d]);
      }
    }
    __syncwarp();
  }
  float* u = part + (((size_t)t * heads + h) * splits + sp) * (headDim + 2);
#pragma unroll
  for (int j = 0; j < DPL; j++) {
    int d = lane + 32 * j;
    if (d >= headDim) continue;
    if (splits == 1) out[(size_t)t * heads * headDim + (size_t)h * headDim + d] = tobf(acc[j] / l);
    else u[d] = acc[j];
  }
  if (splits > 1 && lane == 0) {
    u[headDim] = m;
    u[headDim + 1] = l;
  }
}

}  // namespace

template <int G, int DPL, typename KV>
static void attn(const AttentionPlan& plan, cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q,
                 int ldq, const KV* kc, const KV* vc, const int* tokSeq, const int* pos, const int* tables,
                 int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale, int partition,
                 int splits) {
  int hg = plan.hg;
  int units = kvHeads * hg;  // blocks per (token, split)
  dim3 grid(rows, units, splits);
  if (splits > MAX_FUSED_SPLITS) counters = nullptr;
  if (plan.kernel == ATTN_CHUNKED && hg > 1) {
    launchK(true, attention2K<G, DPL, true, KV>, grid, 128, s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables,
            stride, blockSize, heads, units, headDim, scale, partition, splits, hg);
  } else if (plan.kernel == ATTN_CHUNKED) {
    launchK(true, attention2K<G, DPL, false, KV>, grid, 128, s, out, part, counters, q, ldq, kc, vc, tokSeq, pos,
            tables, stride, blockSize, heads, units, headDim, scale, partition, splits, 1);
  } else {
    launchK(true, attentionK<G, DPL, KV>, grid, 128, s, out, part, q, ldq, kc, vc, tokSeq, pos, tables, stride,
            blockSize, heads, units, headDim, scale, partition, splits);
    counters = nullptr;  // attentionK leaves the merge to attentionCombineK
  }
  if (splits > 1 && counters == nullptr) {
    launchK(true, attentionCombineK, dim3(rows, units), 128, s, out, part, heads, units, headDim, G, splits, pos,
            partition == 0);
  }
}

template <typename KV>
static bool attentionOf(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq, const KV* kc,
                        const KV* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
                        int rows, int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  AttentionPlan plan = planAttention(rows, heads, kvHeads, headDim);
  if (plan.kernel == ATTN_NONE) return false;
  if (plan.kernel == ATTN_ANY) {
    launchK(true, attentionAnyK<KV>, dim3(rows, (heads + 3) / 4, splits), 128, s, out, part, q, ldq, kc, vc, tokSeq,
            pos, tables, stride, blockSize, heads, kvHeads, headDim, scale, partition, splits);
    if (splits > 1) {
      launchK(true, attentionCombineK, dim3(rows, heads), 128, s, out, part, heads, heads, headDim, 1, splits, pos,
              partition == 0);
    }
    return true;
  }
#define ATTN_LAUNCH(G, DPL) \
  if (plan.group == G && plan.dpl == DPL) { \
    attn<G, DPL, KV>(plan, s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, \
                     heads, kvHeads, headDim, scale, partition, splits); \
    return true; \
  }
  ATTN_KERNELS(ATTN_LAUNCH)
#undef ATTN_LAUNCH
  return false;
}

bool launchAttention(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq, const bf16* kc,
                     const bf16* vc,
                     const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int rows,
                     int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  return attentionOf(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                     kvHeads, headDim, scale, partition, splits);
}

bool launchAttention(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq, const kv8* kc,
                     const kv8* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
                     int rows, int heads, int kvHeads, int headDim, float scale, int partition, int splits) {
  return attentionOf(s, out, part, counters, q, ldq, kc, vc, tokSeq, pos, tables, stride, blockSize, rows, heads,
                     kvHeads, headDim, scale, partition, splits);
}

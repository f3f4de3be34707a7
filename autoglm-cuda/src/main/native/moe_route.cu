// MoE routing on the device: MoeRouter's selection per token (moeRouteK) and the plan of the step's (token, expert)
// pairs sorted by expert (moePlanK), so that a MoE decode step needs no host wait and can be a CUDA graph.
//
// What is matched, exactly:
//  - scores = (float)(1 / (1 + exp(-(double)logit))), as MoeRouter.sigmoid; biased = score + correctionBias (fp32);
//  - group-limited routing: a group's score is the sum of its two best biased scores; the topk_group best groups
//    stay, the other experts are masked with -inf (transformers 5.17);
//  - the chosen SET is MoeRouter's (torch.topk on the CPU) for every token: the warp selection picks the k best by
//    torch's comparator (NaN first, then larger; -0.0 == 0.0), which decides the set whenever the k-th and the
//    (k+1)-th values differ (and the topk_group-th and next group scores). A token where either pair is equal (an
//    exact tie: which experts are chosen then depends on torch's algorithm) is routed instead by one thread running
//    torchTopK below, a line-for-line port of libstdc++'s nth_element / partial_sort as TorchTopK.java ports it:
//    then the device chooses exactly what torch on the CPU chooses, in torch's order. (torch.topk on CUDA breaks such
//    ties differently: radix select keeps the lowest indices among values equal to the k-th. The CPU's rule is the
//    reference here because it is the one MoeRouter and the fixtures' transformers runs follow.)
//  - without a tie, the experts are listed best first (ties among the chosen by lower index), not in torch's order:
//    the weights' sum and the combine add the same terms in another order (fp32 rounding, an ulp or so).
//  - weights: the unbiased scores of the chosen, divided by their sum (summed in list order) + 1e-20 when
//    norm_topk_prob, times routed_scaling_factor, all fp32 as MoeRouter.
// The plan is the host's (CudaMoe.plan) stable counting sort: rows sorted by expert, within an expert by pair index
// (token-major), so tokenOfRow, expertIds and offsets equal the host plan's for the same choices.
#include "common.cuh"
#include "bridge.cuh"

namespace {

constexpr int ROUTE_WARPS = 4;          // tokens per block of moeRouteK
constexpr int ROUTE_MAX_EXPERTS = 512;  // shared memory: 3 arrays of E per warp, under 48 KiB per block
constexpr int ROUTE_MAX_TOPK = 32;      // a lane per chosen expert for the weights
constexpr int ROUTE_MAX_GROUPS = 32;    // a lane per group
constexpr unsigned FULL = 0xffffffffu;

/** torch.topk's CPU comparator for largest=True: NaN first, then larger values; indices never compared. */
__host__ __device__ __forceinline__ bool before(float x, float y) { return (x != x && y == y) || x > y; }

__host__ __device__ __forceinline__ bool same(float x, float y) { return !before(x, y) && !before(y, x); }

__host__ __device__ __forceinline__ float routeSigmoid(float x) {
  return (float)(1.0 / (1.0 + exp(-(double)x)));
}

/** TorchTopK.java on (val, ind) pairs, for one thread: libstdc++'s __introselect and __heap_select, line for line. */
struct TorchTopK {
  float* val;
  int* ind;

  __host__ __device__ bool bef(int a, int b) const { return before(val[a], val[b]); }
  __host__ __device__ void swap(int a, int b) {
    float v = val[a]; val[a] = val[b]; val[b] = v;
    int i = ind[a]; ind[a] = ind[b]; ind[b] = i;
  }
  __host__ __device__ void move(int to, int from) { val[to] = val[from]; ind[to] = ind[from]; }

  __host__ __device__ void adjustHeap(int first, int hole, int len, float v, int x) {
    int top = hole, child = hole;
    while (child < (len - 1) / 2) {
      child = 2 * (child + 1);
      if (bef(first + child, first + child - 1)) child--;
      move(first + hole, first + child);
      hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
      child = 2 * (child + 1);
      move(first + hole, first + child - 1);
      hole = child - 1;
    }
    int parent = (hole - 1) / 2;
    while (hole > top && before(val[first + parent], v)) {
      move(first + hole, first + parent);
      hole = parent;
      parent = (hole - 1) / 2;
    }
    val[first + hole] = v;
    ind[first + hole] = x;
  }
  __host__ __device__ void makeHeap(int first, int last) {
    int len = last - first;
    if (len < 2) return;
    for (int parent = (len - 2) / 2;; parent--) {
      adjustHeap(first, parent, len, val[first + parent], ind[first + parent]);
      if (parent == 0) return;
    }
  }
  __host__ __device__ void popHeap(int first, int last, int result) {
    float v = val[result];
    int x = ind[result];
    move(result, first);
    adjustHeap(first, 0, last - first, v, x);
  }
  __host__ __device__ void heapSelect(int first, int middle, int last) {
    makeHeap(first, middle);
    for (int i = middle; i < last; i++)
      if (bef(i, first)) popHeap(first, middle, i);
  }
  __host__ __device__ void insertionSort(int first, int last) {
    if (first == last) return;
    for (int i = first + 1; i != last; i++) {
      float v = val[i];
      int x = ind[i];
      if (before(v, val[first])) {
        for (int j = i; j > first; j--) move(j, j - 1);  // std::move_backward
        val[first] = v;
        ind[first] = x;
      } else {
        int j = i;
        while (before(v, val[j - 1])) { move(j, j - 1); j--; }
        val[j] = v;
        ind[j] = x;
      }
    }
  }
  __host__ __device__ int unguardedPartition(int first, int last, int pivot) {
    while (true) {
      while (bef(first, pivot)) first++;
      last--;
      while (bef(pivot, last)) last--;
      if (!(first < last)) return first;
      swap(first, last);
      first++;
    }
  }
  __host__ __device__ int partitionPivot(int first, int last) {
    int mid = first + (last - first) / 2, a = first + 1, c = last - 1;
    if (bef(a, mid)) {
      if (bef(mid, c)) swap(first, mid);
      else if (bef(a, c)) swap(first, c);
      else swap(first, a);
    } else if (bef(a, c)) swap(first, a);
    else if (bef(mid, c)) swap(first, c);
    else swap(first, mid);
    return unguardedPartition(first + 1, last, first);
  }
  __host__ __device__ void nthElement(int n, int nth) {
    int first = 0, last = n;
    if (nth == last) return;
    int lg = 0;
    while ((2 << lg) <= n) lg++;  // std::__lg(n)
    int depth = 2 * lg;
    while (last - first > 3) {
      if (depth == 0) {
        heapSelect(first, nth + 1, last);
        swap(first, nth);
        return;
      }
      depth--;
      int cut = partitionPivot(first, last);
      if (cut <= nth) first = cut;
      else last = cut;
    }
    insertionSort(first, last);
  }
  /** torch.topk(values, k, sorted=False) on the CPU: the indices end up in ind[0, k). values may alias val. */
  __host__ __device__ void largest(const float* values, int n, int k) {
    for (int j = 0; j < n; j++) { val[j] = values[j]; ind[j] = j; }
    if (k == 0) return;
    if (k * 64 <= n) {
      heapSelect(0, k, n);
      for (int last = k; last > 1;) { last--; popHeap(0, last, last); }
    } else {
      nthElement(n, k - 1);
    }
  }
};

struct RouteSpec {
  int experts, k, groups, topkGroups;
  bool norm;
  float scale;
};

/**
 * One token exactly as MoeRouter.route chooses, by one thread: biased (E) in, chosen (k) out in torch's order.
 * Scratch: val, ind (E each), gs, gval (G floats), gind (G ints).
 */
__host__ __device__ void routeSerial(const float* biased, const RouteSpec& r, float* val, int* ind, float* gs,
                                     float* gval, int* gind, int* chosen) {
  TorchTopK q{val, ind};
  const float* masked = biased;
  if (r.groups > 1) {
    int size = r.experts / r.groups;
    for (int g = 0; g < r.groups; g++) {
      q.largest(biased + g * size, size, 2);
      gs[g] = biased[g * size + ind[0]] + biased[g * size + ind[1]];
    }
    TorchTopK qg{gval, gind};
    qg.largest(gs, r.groups, r.topkGroups);
    for (int e = 0; e < r.experts; e++) val[e] = -INFINITY;
    for (int j = 0; j < r.topkGroups; j++)
      for (int e = gind[j] * size; e < (gind[j] + 1) * size; e++) val[e] = biased[e];
    masked = val;  // largest() copies it onto itself
  }
  q.largest(masked, r.experts, r.k);
  for (int j = 0; j < r.k; j++) chosen[j] = ind[j];
}

/** Weights of the chosen experts from the logits, in list order, as MoeRouter.route (one thread). */
__host__ __device__ void routeWeights(const float* logits, const int* chosen, const RouteSpec& r, float* w) {
  float sum = 0.f;
  for (int j = 0; j < r.k; j++) {
    w[j] = routeSigmoid(logits[chosen[j]]);
    sum += w[j];
  }
  float den = sum + 1e-20f;
  for (int j = 0; j < r.k; j++) w[j] = (r.norm ? w[j] / den : w[j]) * r.scale;
}

/** A candidate of the warp's arg-max: torch's order, then the lower index; idx < 0 is no candidate. */
struct Cand {
  float v;
  int idx;
};

__device__ __forceinline__ bool better(Cand a, Cand b) {
  if (b.idx < 0) return a.idx >= 0;
  if (a.idx < 0) return false;
  return before(a.v, b.v) || (same(a.v, b.v) && a.idx < b.idx);
}

__device__ __forceinline__ Cand warpBest(Cand c) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Cand d{__shfl_xor_sync(FULL, c.v, o), __shfl_xor_sync(FULL, c.idx, o)};
    if (better(d, c)) c = d;
  }
  return c;
}

/**
 * One warp per token row: biased scores, groups, the k best, and the tie check; a token with an exact tie at the
 * boundary goes through routeSerial on lane 0. Writes experts (rows, k) and weights (rows, k); biasedOut (rows, E)
 * when not null (diagnostics). Shared memory per warp: biased, val (E floats), ind (E ints), gs, gval (G), gind (G),
 * chosen (k ints).
 */
__global__ void moeRouteK(const float* logits, const float* bias, RouteSpec r, int rows, int* expertsOut,
                          float* weightsOut, float* biasedOut) {
  pdlTrigger();
  pdlWait();
  extern __shared__ float sh[];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int t = blockIdx.x * ROUTE_WARPS + warp;
  if (t >= rows) return;  // whole warps leave; the kernel has no block-wide barrier
  const int E = r.experts, G = r.groups;
  float* biased = sh + (size_t)warp * (3 * E + 3 * G + r.k);
  float* val = biased + E;
  int* ind = (int*)(val + E);
  float* gs = (float*)(ind + E);
  float* gval = gs + G;
  int* gind = (int*)(gval + G);
  int* chosen = gind + G;
  const float* lr = logits + (size_t)t * E;
  for (int e = lane; e < E; e += 32) {
    float b = routeSigmoid(lr[e]) + bias[e];
    biased[e] = b;
    if (biasedOut != nullptr) biasedOut[(size_t)t * E + e] = b;
  }
  __syncwarp();
  bool tie = false;
  unsigned kept = FULL;  // bit g: group g stays
  int size = E / G;
  if (G > 1) {
    Cand mine{0.f, -1};
    if (lane < G) {  // the group's two best, by torch's comparator
      float b1 = biased[lane * size], b2 = biased[lane * size + 1];
      if (before(b2, b1)) { float x = b1; b1 = b2; b2 = x; }
      for (int e = lane * size + 2; e < (lane + 1) * size; e++) {
        float v = biased[e];
        if (before(v, b1)) { b2 = b1; b1 = v; }
        else if (before(v, b2)) b2 = v;
      }
      mine = Cand{b1 + b2, lane};
    }
    unsigned keep = 0;
    float last = 0.f;
    for (int j = 0; j < r.topkGroups; j++) {
      Cand best = warpBest(((keep >> lane) & 1) ? Cand{0.f, -1} : mine);
      keep |= 1u << best.idx;
      last = best.v;
    }
    if (r.topkGroups < G) {
      Cand next = warpBest(((keep >> lane) & 1) ? Cand{0.f, -1} : mine);
      tie |= same(next.v, last);
    }
    kept = keep;
  }
  for (int e = lane; e < E; e += 32) {
    val[e] = ((kept >> (e / size)) & 1) ? biased[e] : -INFINITY;
    ind[e] = 0;  // 1: chosen
  }
  __syncwarp();
  float kth = 0.f;
  for (int j = 0; j < r.k; j++) {
    Cand c{0.f, -1};
    for (int e = lane; e < E; e += 32)
      if (ind[e] == 0 && better(Cand{val[e], e}, c)) c = Cand{val[e], e};
    c = warpBest(c);
    if (lane == (c.idx & 31)) ind[c.idx] = 1;
    if (lane == 0) chosen[j] = c.idx;
    kth = c.v;
    __syncwarp();
  }
  if (r.k < E) {
    Cand c{0.f, -1};
    for (int e = lane; e < E; e += 32)
      if (ind[e] == 0 && better(Cand{val[e], e}, c)) c = Cand{val[e], e};
    c = warpBest(c);
    tie |= c.idx >= 0 && same(c.v, kth);
  }
  if (tie && lane == 0) routeSerial(biased, r, val, ind, gs, gval, gind, chosen);
  __syncwarp();
  // routeWeights with a lane per chosen expert: the same operations, the sum still taken in list order
  float w = lane < r.k ? routeSigmoid(lr[chosen[lane]]) : 0.f;
  float sum = 0.f;
  for (int j = 0; j < r.k; j++) sum += __shfl_sync(FULL, w, j);
  float den = sum + 1e-20f;
  if (lane < r.k) {
    expertsOut[(size_t)t * r.k + lane] = chosen[lane];
    weightsOut[(size_t)t * r.k + lane] = (r.norm ? w / den : w) * r.scale;
  }
}

/**
 * The plan of `pairs` token-major (token, expert) pairs, by one warp: per-expert counts, their prefix sum, the
 * non-empty experts in ascending order (expertIds, offsets), the rows sorted stably by expert (tokenOfRow, rowOfPair).
 * expertIds and offsets have maxGroups (+1) entries: those past the step's groups are expert 0 with no rows
 * (offsets = pairs), so a grouped kernel launched over maxGroups groups skips them. meta: {groups, largest group}.
 * Shared memory: counts and starts (2·E ints).
 */
__global__ void moePlanK(const int* experts, int pairs, int k, int E, int maxGroups, int* tokenOfRow, int* rowOfPair,
                         int* expertIds, int* offsets, int* meta) {
  pdlTrigger();
  pdlWait();
  extern __shared__ int cnt[];
  int* start = cnt + E;
  int lane = threadIdx.x;
  for (int e = lane; e < E; e += 32) cnt[e] = 0;
  __syncwarp();
  for (int p0 = 0; p0 < pairs; p0 += 32) {
    int p = p0 + lane;
    int e = p < pairs ? experts[p] : -1;
    unsigned m = __match_any_sync(FULL, e);
    if (e >= 0 && lane == __ffs(m) - 1) cnt[e] += __popc(m);
    __syncwarp();
  }
  int per = (E + 31) / 32, lo = min(E, lane * per), hi = min(E, lo + per);
  int sum = 0, nonEmpty = 0, largest = 0;
  for (int x = lo; x < hi; x++) {
    sum += cnt[x];
    nonEmpty += cnt[x] > 0;
    largest = max(largest, cnt[x]);
  }
  int inclSum = sum, inclGroups = nonEmpty;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    int a = __shfl_up_sync(FULL, inclSum, o), b = __shfl_up_sync(FULL, inclGroups, o);
    if (lane >= o) { inclSum += a; inclGroups += b; }
    largest = max(largest, __shfl_xor_sync(FULL, largest, o));
  }
  int at = inclSum - sum, g = inclGroups - nonEmpty;
  for (int x = lo; x < hi; x++) {
    start[x] = at;
    if (cnt[x] > 0) {
      expertIds[g] = x;
      offsets[g] = at;
      g++;
    }
    at += cnt[x];
  }
  int groups = __shfl_sync(FULL, inclGroups, 31);
  for (int x = groups + lane; x <= maxGroups; x += 32) {
    if (x < maxGroups) expertIds[x] = 0;
    offsets[x] = pairs;
  }
  if (lane == 0 && meta != nullptr) { meta[0] = groups; meta[1] = largest; }
  __syncwarp();
  for (int p0 = 0; p0 < pairs; p0 += 32) {
    int p = p0 + lane;
    int e = p < pairs ? experts[p] : -1;
    unsigned m = __match_any_sync(FULL, e);
    int base = e >= 0 ? start[e] : 0;
    __syncwarp();
    if (e >= 0) {
      int row = base + __popc(m & ((1u << lane) - 1));
      tokenOfRow[row] = p / k;
      rowOfPair[p] = row;
      if (lane == __ffs(m) - 1) start[e] = base + __popc(m);
    }
    __syncwarp();
  }
}

bool routeSpecOk(const RouteSpec& r) {
  return r.experts > 0 && r.experts <= ROUTE_MAX_EXPERTS && r.k > 0 && r.k <= ROUTE_MAX_TOPK && r.k <= r.experts
      && r.groups > 0 && r.groups <= ROUTE_MAX_GROUPS && r.experts % r.groups == 0 && r.experts / r.groups >= 2
      && r.topkGroups > 0 && r.topkGroups <= r.groups && r.k <= r.topkGroups * (r.experts / r.groups);
}

}  // namespace

/** MoeRouter's choice for every row of logits (rows, E) on the device; false when the spec is outside the limits. */
bool launchMoeRoute(cudaStream_t s, const float* logits, const float* bias, RouteSpec r, int rows, int* experts,
                    float* weights, float* biasedOut) {
  if (!routeSpecOk(r)) return false;
  size_t smem = (size_t)ROUTE_WARPS * (3 * r.experts + 3 * r.groups + r.k) * 4;
  launchKs(true, moeRouteK, dim3((rows + ROUTE_WARPS - 1) / ROUTE_WARPS), dim3(32 * ROUTE_WARPS), smem, s, logits,
           bias, r, rows, experts, weights, biasedOut);
  return true;
}

void launchMoePlan(cudaStream_t s, const int* experts, int pairs, int k, int E, int maxGroups, int* tokenOfRow,
                   int* rowOfPair, int* expertIds, int* offsets, int* meta) {
  launchKs(true, moePlanK, dim3(1), dim3(32), (size_t)2 * E * 4, s, experts, pairs, k, E, maxGroups, tokenOfRow,
           rowOfPair, expertIds, offsets, meta);
}

JNI(jboolean, moeRoute)(JNIEnv* env, jclass, jlong h, jlong logits, jlong bias, jint rows, jint experts, jint k,
                        jint groups, jint topkGroups, jboolean norm, jfloat scale, jlong outExperts,
                        jlong outWeights, jlong biasedOut) {
  RouteSpec r{experts, k, groups, topkGroups, norm == JNI_TRUE, scale};
  if (!launchMoeRoute(ctx(h)->stream, p<float>(logits), p<float>(bias), r, rows, p<int>(outExperts),
                      p<float>(outWeights), p<float>(biasedOut))) {
    return JNI_FALSE;
  }
  return launched(env, "moeRoute kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(void, moePlan)(JNIEnv* env, jclass, jlong h, jlong experts, jint pairs, jint k, jint numExperts, jint maxGroups,
                   jlong tokenOfRow, jlong rowOfPair, jlong expertIds, jlong offsets, jlong meta) {
  launchMoePlan(ctx(h)->stream, p<int>(experts), pairs, k, numExperts, maxGroups, p<int>(tokenOfRow),
                p<int>(rowOfPair), p<int>(expertIds), p<int>(offsets), p<int>(meta));
  launched(env, "moePlan kernel");
}

JNI(jintArray, moeRouteLimits)(JNIEnv* env, jclass) {
  jint v[3] = {ROUTE_MAX_EXPERTS, ROUTE_MAX_TOPK, ROUTE_MAX_GROUPS};
  jintArray a = env->NewIntArray(3);
  env->SetIntArrayRegion(a, 0, 3, v);
  return a;
}

/**
 * The self-tests' entry (io.autoglm.cuda.CudaSelfTests.routeSerialHost0): routeSerial and routeWeights, the tie path
 * of moeRouteK, compiled for the host from the same source, on one token. Needs no device. Returns false when the
 * spec is outside the limits.
 */
extern "C" JNIEXPORT jboolean JNICALL Java_io_autoglm_cuda_CudaSelfTests_routeSerialHost0(
    JNIEnv* env, jclass, jfloatArray logits, jfloatArray bias, jint k, jint groups, jint topkGroups, jboolean norm,
    jfloat scale, jintArray outExperts, jfloatArray outWeights) {
  int E = env->GetArrayLength(logits);
  RouteSpec r{E, k, groups, topkGroups, norm == JNI_TRUE, scale};
  if (!routeSpecOk(r) || env->GetArrayLength(bias) != E || env->GetArrayLength(outExperts) < k
      || env->GetArrayLength(outWeights) < k) {
    return JNI_FALSE;
  }
  std::vector<float> l(E), b(E), biased(E), val(E), gs(groups), gval(groups), w(k);
  std::vector<int> ind(E), gind(groups), chosen(k);
  env->GetFloatArrayRegion(logits, 0, E, l.data());
  env->GetFloatArrayRegion(bias, 0, E, b.data());
  for (int e = 0; e < E; e++) biased[e] = routeSigmoid(l[e]) + b[e];
  routeSerial(biased.data(), r, val.data(), ind.data(), gs.data(), gval.data(), gind.data(), chosen.data());
  routeWeights(l.data(), chosen.data(), r, w.data());
  env->SetIntArrayRegion(outExperts, 0, k, chosen.data());
  env->SetFloatArrayRegion(outWeights, 0, k, w.data());
  return JNI_TRUE;
}

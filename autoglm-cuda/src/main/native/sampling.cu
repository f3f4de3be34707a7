// On-device sampling: argmax, or temperature -> top-k -> top-p -> the host Sampler's draw.
#include "common.cuh"

namespace {

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
__global__ void __launch_bounds__(1024) sampleK(int* outTok, const float* logits, int ldl, int vocab,
                                               const SampleParams* params) {
  pdlTrigger();
  pdlWait();
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

}  // namespace

void launchSample(cudaStream_t s, int* outTok, const float* logits, int ldl, int vocab, const SampleParams* p,
                  int rows) {
  launchK(false, sampleK, rows, 1024, s, outTok, logits, ldl, vocab, p);
}

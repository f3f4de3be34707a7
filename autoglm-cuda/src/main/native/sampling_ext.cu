// Logit processing and logprobs on the device, for io.autoglm.cuda.CudaSamplingNative: a grammar's allowed-token
// bitset, logit bias, the repetition / frequency / presence penalties and min-p applied to a copy of the logits
// before the sampling kernel (sampleK) picks from it, and the log-softmax of the raw logits (chosen token and top
// alternatives) after it. The same rule, order and float operations as the host's io.autoglm.sample.LogitProcessing.
// Steps without any of these features never reach this file.
#include <jni.h>
#include <cuda_runtime.h>
#include <math_constants.h>
#include <string>

extern "C" cudaStream_t autoglmContextStream(jlong h);  // bridge.cu: the context's stream, its device made current

namespace {

/** Per-row parameters, 64 bytes, written by Java (little-endian) in this exact layout. */
struct ProcessParams {
  float temperature;  // 0 = greedy (min-p off)
  float presence;     // OpenAI's, over the output ids
  float frequency;
  float repetition;   // transformers', over prompt and output ids; 1 = off
  float minP;         // 0 = off
  int maskWord;       // first 64-bit word of the row's bitset in masks, or -1: no mask
  int maskWords;      // words of the row's bitset; ids past them are not allowed
  int biasFirst;      // entries [biasFirst, biasFirst + biasCount) of biasIds / biasValues
  int biasCount;
  int histFirst;      // entries of hist: (id, times in the output), every id of the prompt or the output once
  int histCount;
  int topN;           // -1: no logprobs; else the alternatives to report (0 to 20)
  int pad[4];
};
static_assert(sizeof(ProcessParams) == 64, "ProcessParams must match CudaSampling's 64-byte layout");

const int MAX_TOP = 20;
const int LOGPROB_STRIDE = 1 + 2 * MAX_TOP;  // floats per row: chosen logprob, then (id bits, logprob) pairs

__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/** Max (or sum) over the block; every thread gets the result. sh: 33 floats. */
__device__ float blockReduce(float v, float* sh, bool max) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = max ? warpMax(v) : warpSum(v);
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < nw ? sh[lane] : (max ? -CUDART_INF_F : 0.f);
    t = max ? warpMax(t) : warpSum(t);
    if (lane == 0) sh[32] = t;
  }
  __syncthreads();
  return sh[32];
}

/**
 * One block per row: out = logits with the mask (-inf where the bitset says no), bias, penalties and min-p, in
 * the host's order. The explicit _rn operations keep the compiler from fusing them, so a value equals the host's.
 */
__global__ void __launch_bounds__(1024) processK(float* out, int ldo, const float* logits, int ldl, int vocab,
                                                const ProcessParams* params, const unsigned long long* masks,
                                                const int* biasIds, const float* biasValues, const int2* hist) {
  __shared__ float sh[33];
  ProcessParams p = params[blockIdx.x];
  const float* x = logits + (size_t)blockIdx.x * ldl;
  float* o = out + (size_t)blockIdx.x * ldo;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    float v = x[i];
    if (p.maskWord >= 0) {
      int w = i >> 6;
      bool allowed = w < p.maskWords && ((masks[p.maskWord + w] >> (i & 63)) & 1ull);
      if (!allowed) v = -CUDART_INF_F;
    }
    o[i] = v;
  }
  __syncthreads();
  for (int k = threadIdx.x; k < p.biasCount; k += blockDim.x) {  // distinct ids: no two threads share one
    int id = biasIds[p.biasFirst + k];
    if (id < vocab) o[id] = __fadd_rn(o[id], biasValues[p.biasFirst + k]);
  }
  __syncthreads();
  for (int k = threadIdx.x; k < p.histCount; k += blockDim.x) {
    int2 e = hist[p.histFirst + k];
    if (e.x >= vocab) continue;
    float v = o[e.x];
    if (p.repetition != 1.f) v = v < 0.f ? __fmul_rn(v, p.repetition) : __fdiv_rn(v, p.repetition);
    if (e.y > 0) v = __fsub_rn(v, __fadd_rn(__fmul_rn((float)e.y, p.frequency), p.presence));
    o[e.x] = v;
  }
  if (!(p.minP > 0.f) || !(p.temperature > 0.f)) return;
  __syncthreads();
  float m = -CUDART_INF_F;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, o[i]);
  m = blockReduce(m, sh, true);
  float floor = __fadd_rn(m, __fmul_rn(p.temperature, (float)log((double)p.minP)));
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    if (o[i] < floor) o[i] = -CUDART_INF_F;
  }
}

/** (value, id) of the larger in the order: larger value first, then lower id. */
__device__ __forceinline__ bool better(float v, int id, float bv, int bid) {
  return v > bv || (v == bv && id < bid);
}

/**
 * One block per row asking for logprobs: the log-softmax of the raw logits (temperature 1) at the sampled token and
 * at the topN largest logits, found by topN block-wide argmax passes, each below the one before it in the
 * (value desc, id asc) order. out row: [chosen, then (id as float bits, logprob) × topN].
 */
__global__ void __launch_bounds__(1024) logprobsK(float* out, const float* logits, int ldl, int vocab,
                                                 const ProcessParams* params, const int* tokens) {
  __shared__ float sh[33];
  __shared__ float shv[32];
  __shared__ int shi[32];
  ProcessParams p = params[blockIdx.x];
  if (p.topN < 0) return;
  const float* x = logits + (size_t)blockIdx.x * ldl;
  float* o = out + (size_t)blockIdx.x * LOGPROB_STRIDE;
  int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nw = blockDim.x >> 5;
  float m = -CUDART_INF_F;
  for (int i = tid; i < vocab; i += blockDim.x) m = fmaxf(m, x[i]);
  m = blockReduce(m, sh, true);
  float s = 0.f;
  for (int i = tid; i < vocab; i += blockDim.x) s += expf(x[i] - m);
  s = blockReduce(s, sh, false);
  float lse = m + logf(s);
  if (tid == 0) o[0] = x[tokens[blockIdx.x]] - lse;
  float prevV = CUDART_INF_F;
  int prevId = -1;
  int n = min(p.topN, min(MAX_TOP, vocab));
  for (int k = 0; k < n; k++) {
    float bv = -CUDART_INF_F;
    int bi = 0x7fffffff;
    for (int i = tid; i < vocab; i += blockDim.x) {
      float v = x[i];
      bool below = v < prevV || (v == prevV && i > prevId);
      if (below && better(v, i, bv, bi)) { bv = v; bi = i; }
    }
    for (int off = 16; off > 0; off >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, off);
      int oi = __shfl_xor_sync(0xffffffffu, bi, off);
      if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    }
    __syncthreads();
    if (lane == 0) { shv[warp] = bv; shi[warp] = bi; }
    __syncthreads();
    if (tid == 0) {
      for (int w = 1; w < nw; w++) {
        if (better(shv[w], shi[w], shv[0], shi[0])) { shv[0] = shv[w]; shi[0] = shi[w]; }
      }
      o[1 + 2 * k] = __int_as_float(shi[0]);
      o[2 + 2 * k] = shv[0] - lse;
    }
    __syncthreads();
    prevV = shv[0];
    prevId = shi[0];
  }
}

void throwIse(JNIEnv* env, const std::string& msg) {
  env->ThrowNew(env->FindClass("java/lang/IllegalStateException"), msg.c_str());
}

void launched(JNIEnv* env, const char* kernel) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    throwIse(env, std::string(kernel) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

template <typename T> T* ptr(jlong v) { return reinterpret_cast<T*>(v); }

}  // namespace

#define SJNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaSamplingNative_##name

SJNI(void, process)(JNIEnv* env, jclass, jlong h, jlong out, jint ldo, jlong logits, jint ldl, jint vocab,
                    jlong params, jint rows, jlong masks, jlong biasIds, jlong biasValues, jlong hist) {
  cudaStream_t s = autoglmContextStream(h);
  processK<<<rows, 1024, 0, s>>>(ptr<float>(out), ldo, ptr<const float>(logits), ldl, vocab,
                                 ptr<const ProcessParams>(params), ptr<const unsigned long long>(masks),
                                 ptr<const int>(biasIds), ptr<const float>(biasValues), ptr<const int2>(hist));
  launched(env, "logit processing kernel (processK)");
}

SJNI(void, logprobs)(JNIEnv* env, jclass, jlong h, jlong out, jlong logits, jint ldl, jint vocab, jlong params,
                     jlong tokens, jint rows) {
  cudaStream_t s = autoglmContextStream(h);
  logprobsK<<<rows, 1024, 0, s>>>(ptr<float>(out), ptr<const float>(logits), ldl, vocab,
                                  ptr<const ProcessParams>(params), ptr<const int>(tokens));
  launched(env, "logprobs kernel (logprobsK)");
}

SJNI(jint, logprobStride)(JNIEnv*, jclass) { return LOGPROB_STRIDE; }

// The device buffers of the kernel self-checks (selftest*.cu), shared so that every check fills and uploads the same
// way: ordered on the context's stream.
#pragma once
#include "bridge.cuh"  // f32ToBf16
#include "common.cuh"  // g_kernels
#include <vector>

namespace selftest {

/**
 * Device buffers of a self-check, freed together. Every fill and upload is ordered on the context's stream, which is
 * non-blocking: cudaMemset / cudaMemcpy on the legacy default stream would not be ordered before the kernels on it (a pageable cudaMemcpy may return before its last DMA lands, and a cudaMemset is
 * asynchronous), so a kernel could read a half-uploaded buffer or have its output zeroed after it wrote it.
 */
struct Scratch {
  std::vector<void*> all;
  unsigned long long z;
  cudaStream_t st;
  Scratch(long long seed, cudaStream_t stream) : z((unsigned long long)seed), st(stream) {}
  ~Scratch() {
    cudaStreamSynchronize(st);
    for (void* q : all) cudaFree(q);
  }
  float next() {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((z >> 40) & 0xffff) / 65536.f - 0.5f;
  }
  /** n zeroed bytes on the device (zeroed on the stream), or null. */
  void* zeros(size_t n) {
    void* d = nullptr;
    if (cudaMalloc(&d, n < 16 ? 16 : n) != cudaSuccess) return nullptr;
    all.push_back(d);
    cudaMemsetAsync(d, 0, n, st);
    return d;
  }
  /** n random bf16 in [-scale/2, scale/2), plus offset. */
  bf16* random(size_t n, float scale, float offset = 0.f) {
    std::vector<uint16_t> host(n);
    for (size_t i = 0; i < n; i++) host[i] = f32ToBf16(offset + next() * scale);
    return (bf16*)upload(host);
  }
  /** v on the device; waits for the copy (v is pageable host memory and may go away). */
  template <typename V>
  V* upload(const std::vector<V>& v) {
    V* d = (V*)zeros(v.size() * sizeof(V));
    if (d != nullptr) {
      cudaMemcpyAsync(d, v.data(), v.size() * sizeof(V), cudaMemcpyHostToDevice, st);
      cudaStreamSynchronize(st);
    }
    return d;
  }
};

/**
 * The CUDA-core GEMVs for the guard's life (cuda.gemvTc off): the reference of the fused CUDA-core GEMV kernels, which
 * equal launchGemv bit for bit only where it does not take the tensor-core GEMV.
 */
struct CudaCoreGemv {
  int saved;
  CudaCoreGemv() : saved(g_kernels.gemvTc) { g_kernels.gemvTc = 0; }
  ~CudaCoreGemv() { g_kernels.gemvTc = saved; }
};

/**
 * GPU µs per call of one(i) (a bool: false when the kernel declined) over `iters` calls, after 3 warm-up calls, timed
 * with events on stream s: -1 when a warm-up declined, -2 when it left a Java exception or the stream failed.
 */
template <typename F>
double microsPerCall(JNIEnv* env, cudaStream_t s, int iters, F&& one, const char* what) {
  for (int i = 0; i < 3; i++) {
    if (!one(i)) return env->ExceptionCheck() ? -2 : -1;
  }
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  cudaEventRecord(e0, s);
  for (int i = 0; i < iters; i++) one(i);
  cudaEventRecord(e1, s);
  cudaError_t e = cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (!ok(env, e, what)) return -2;
  return ms * 1e3 / iters;
}

}  // namespace selftest

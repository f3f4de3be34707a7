// What the JNI bridge's files share (bridge.cu, bridge_ops.cu, bridge_nccl.cu, selftest.cu): the per-device
// context, error reporting as Java IllegalStateExceptions, and the host-side bf16/f16 conversions.
#pragma once
#include <vector>
#include <jni.h>
#include <dlfcn.h>
#include <string.h>
#include <stdio.h>
#include <string>
#include <mutex>
#include <thread>
#include <algorithm>
#include <cmath>
#include "kernels.cuh"
#include "cublaslt.cuh"

// ---- cuBLAS, declared here because the build machine has no cuBLAS headers; values from cublas_api.h ----
typedef struct cublasContext* cublasHandle_t;
typedef int cublasStatus_t;
typedef cublasStatus_t (*CreateFn)(cublasHandle_t*);
typedef cublasStatus_t (*DestroyFn)(cublasHandle_t);
typedef cublasStatus_t (*SetStreamFn)(cublasHandle_t, cudaStream_t);
typedef cublasStatus_t (*SetWorkspaceFn)(cublasHandle_t, void*, size_t);
typedef cublasStatus_t (*GemmExFn)(cublasHandle_t, int, int, int, int, int, const void*, const void*, int, int,
                                   const void*, int, int, const void*, void*, int, int, int, int);
const int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;
const int R_16BF = 14, R_32F = 0;

struct Cublas {
  void* lib = nullptr;
  CreateFn create;
  DestroyFn destroy;
  SetStreamFn setStream;
  SetWorkspaceFn setWorkspace;
  GemmExFn gemmEx;
};

/** One device: its stream, cuBLAS handle and workspace, and the pinned staging buffers for weight uploads. */
struct Context {
  int device;
  cudaStream_t stream;
  Cublas cublas;
  cublasHandle_t handle;
  void* workspace;
  size_t workspaceBytes;
  char* staging[2];
  cudaEvent_t stagingDone[2];
  size_t stagingBytes;
  cudaGraph_t capturing;
  cudaEvent_t* profile;  // profiling events (profileEvents), or null
  int profileEvents;
  GemmLt* lt;  // the cuBLASLt path (cuda.gemm; gemm_lt.cu), never null after create
};

inline void throwIse(JNIEnv* env, const std::string& msg) {
  jclass c = env->FindClass("java/lang/IllegalStateException");
  env->ThrowNew(c, msg.c_str());
}

inline bool ok(JNIEnv* env, cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  throwIse(env, std::string(what) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  return false;
}

inline bool launched(JNIEnv* env, const char* kernel) { return ok(env, cudaGetLastError(), kernel); }

/**
 * The device this thread last made current through setDevice. Several contexts (tensor ranks, pipeline stages) may
 * be driven from one thread, so every entry point that takes a context makes its device current first; the cache
 * keeps that to a thread-local compare when it already is.
 */
extern thread_local int t_device;

inline cudaError_t setDevice(int device) {
  cudaError_t e = cudaSetDevice(device);
  t_device = e == cudaSuccess ? device : -1;
  return e;
}

inline Context* ctx(jlong h) {
  Context* c = reinterpret_cast<Context*>(h);
  if (t_device != c->device) setDevice(c->device);
  return c;
}
template <typename T> T* p(jlong v) { return reinterpret_cast<T*>(v); }

/**
 * dlopen of the first candidate that loads (null or empty ones are skipped); null when none does, with each one's
 * dlerror appended to `tried` as "\n  path: error".
 */
template <size_t N>
void* dlopenFirst(const char* const (&candidates)[N], std::string& tried) {
  for (const char* c : candidates) {
    if (c == nullptr || *c == 0) continue;
    void* lib = dlopen(c, RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) return lib;
    tried += std::string("\n  ") + c + ": " + dlerror();
  }
  return nullptr;
}

/** Round-to-nearest-even fp32 → bf16 (NaN stays NaN). */
inline uint16_t f32ToBf16(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);
  return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
}

inline float f16ToF32(uint16_t h) {
  uint32_t s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, b;
  if (e == 0) {
    if (m == 0) b = s;
    else { e = 127 - 15 + 1; while ((m & 0x400) == 0) { m <<= 1; e--; } m &= 0x3ff; b = s | (e << 23) | (m << 13); }
  } else if (e == 31) b = s | 0x7f800000u | (m << 13);
  else b = s | ((e + 127 - 15) << 23) | (m << 13);
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/** y (rows, out) = x (rows, in) · Wᵀ (+ bias) through cuBLAS, W bf16 (out, in); false after throwing (bridge_ops.cu). */
bool gemmBf16(JNIEnv* env, Context* c, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w,
              const bf16* bias, int rows, int in, int out);

#define JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaNative_##name
#define CK(expr, what, fail) if (!ok(env, (expr), what)) return fail

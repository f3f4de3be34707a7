// JNI bridge of io.autoglm.cuda.CudaNative: device context, memory, uploads, cuBLAS (dlopen'ed), graphs, kernels.
// Every failure throws a Java IllegalStateException whose message names the call and the CUDA error.
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

namespace {

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
};

void throwIse(JNIEnv* env, const std::string& msg) {
  jclass c = env->FindClass("java/lang/IllegalStateException");
  env->ThrowNew(c, msg.c_str());
}

bool ok(JNIEnv* env, cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  throwIse(env, std::string(what) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  return false;
}

bool launched(JNIEnv* env, const char* kernel) { return ok(env, cudaGetLastError(), kernel); }

/**
 * The device this thread last made current through setDevice. Several contexts (tensor ranks, pipeline stages) may
 * be driven from one thread, so every entry point that takes a context makes its device current first; the cache
 * keeps that to a thread-local compare when it already is.
 */
thread_local int t_device = -1;

cudaError_t setDevice(int device) {
  cudaError_t e = cudaSetDevice(device);
  t_device = e == cudaSuccess ? device : -1;
  return e;
}

Context* ctx(jlong h) {
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

bool loadCublas(JNIEnv* env, Cublas& cb, const char* path) {
  std::string tried;
  const char* const candidates[] = {path, "libcublas.so.13", "libcublas.so.12",
                                    "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12"};
  cb.lib = dlopenFirst(candidates, tried);
  if (cb.lib == nullptr) {
    throwIse(env, "cuBLAS not found; set property cuda.cublasPath to libcublas.so.13 or .12. Tried:" + tried);
    return false;
  }
  cb.create = (CreateFn)dlsym(cb.lib, "cublasCreate_v2");
  cb.destroy = (DestroyFn)dlsym(cb.lib, "cublasDestroy_v2");
  cb.setStream = (SetStreamFn)dlsym(cb.lib, "cublasSetStream_v2");
  cb.setWorkspace = (SetWorkspaceFn)dlsym(cb.lib, "cublasSetWorkspace_v2");
  cb.gemmEx = (GemmExFn)dlsym(cb.lib, "cublasGemmEx");
  if (!cb.create || !cb.destroy || !cb.setStream || !cb.setWorkspace || !cb.gemmEx) {
    throwIse(env, "the cuBLAS library that was found lacks cublasCreate_v2/cublasGemmEx/cublasSetWorkspace_v2");
    return false;
  }
  return true;
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

}  // namespace

#define JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaNative_##name
#define CK(expr, what, fail) if (!ok(env, (expr), what)) return fail

JNI(jint, deviceCount)(JNIEnv* env, jclass) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorNoDevice) return 0;
  if (e == cudaErrorInsufficientDriver) {
    throwIse(env, "the NVIDIA driver is missing or older than this CUDA runtime needs (cudaErrorInsufficientDriver)");
    return 0;
  }
  CK(e, "cudaGetDeviceCount", 0);
  return n;
}

JNI(jstring, deviceName)(JNIEnv* env, jclass, jint device) {
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties", nullptr);
  char buf[512];
  snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs, %.1f GiB)", prop.name, prop.major, prop.minor,
           prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);
  return env->NewStringUTF(buf);
}

JNI(jlong, create)(JNIEnv* env, jclass, jint device, jstring cublasPath, jlong stagingBytes) {
  CK(setDevice(device), "cudaSetDevice", 0);
  Context* c = new Context();
  c->device = device;
  c->capturing = nullptr;
  c->profile = nullptr;
  c->profileEvents = 0;
  const char* path = cublasPath ? env->GetStringUTFChars(cublasPath, nullptr) : nullptr;
  bool loaded = loadCublas(env, c->cublas, path);
  if (path) env->ReleaseStringUTFChars(cublasPath, path);
  if (!loaded) { delete c; return 0; }
  CK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate", 0);
  if (c->cublas.create(&c->handle) != 0) { throwIse(env, "cublasCreate_v2 failed"); return 0; }
  c->workspaceBytes = 64u << 20;
  CK(cudaMalloc(&c->workspace, c->workspaceBytes), "cudaMalloc(cuBLAS workspace 64 MiB)", 0);
  if (c->cublas.setStream(c->handle, c->stream) != 0 ||
      c->cublas.setWorkspace(c->handle, c->workspace, c->workspaceBytes) != 0) {
    throwIse(env, "cublasSetStream_v2/cublasSetWorkspace_v2 failed");
    return 0;
  }
  c->stagingBytes = (size_t)stagingBytes;
  for (int i = 0; i < 2; i++) {
    CK(cudaHostAlloc((void**)&c->staging[i], c->stagingBytes, cudaHostAllocDefault), "cudaHostAlloc(staging)", 0);
    CK(cudaEventCreateWithFlags(&c->stagingDone[i], cudaEventDisableTiming), "cudaEventCreate", 0);
  }
  return reinterpret_cast<jlong>(c);
}

JNI(void, destroy)(JNIEnv* env, jclass, jlong h) {
  Context* c = ctx(h);
  cudaStreamSynchronize(c->stream);
  c->cublas.destroy(c->handle);
  cudaFree(c->workspace);
  for (int i = 0; i < 2; i++) { cudaFreeHost(c->staging[i]); cudaEventDestroy(c->stagingDone[i]); }
  for (int i = 0; i < c->profileEvents; i++) cudaEventDestroy(c->profile[i]);
  delete[] c->profile;
  cudaStreamDestroy(c->stream);
  delete c;
}

/** {free, total} bytes of `device` as a Java long[2]. */
static jlongArray memInfoOf(JNIEnv* env, int device) {
  CK(setDevice(device), "cudaSetDevice", nullptr);
  size_t freeB, totalB;
  CK(cudaMemGetInfo(&freeB, &totalB), "cudaMemGetInfo", nullptr);
  jlongArray out = env->NewLongArray(2);
  jlong v[2] = {(jlong)freeB, (jlong)totalB};
  env->SetLongArrayRegion(out, 0, 2, v);
  return out;
}

JNI(jlongArray, memInfo)(JNIEnv* env, jclass, jlong h) { return memInfoOf(env, ctx(h)->device); }

JNI(jlong, malloc)(JNIEnv* env, jclass, jlong h, jlong bytes) {
  ctx(h);  // its device
  void* ptr = nullptr;
  cudaError_t e = cudaMalloc(&ptr, (size_t)bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t freeB = 0, totalB = 0;
    cudaMemGetInfo(&freeB, &totalB);
    char buf[256];
    snprintf(buf, sizeof buf, "cudaMalloc of %lld bytes failed: %s (device free %zu of %zu bytes)", (long long)bytes,
             cudaGetErrorString(e), freeB, totalB);
    throwIse(env, buf);
    return 0;
  }
  return reinterpret_cast<jlong>(ptr);
}

JNI(void, free)(JNIEnv* env, jclass, jlong h, jlong ptr) {
  ctx(h);
  CK(cudaFree(p<void>(ptr)), "cudaFree", );
}

JNI(jobject, hostAlloc)(JNIEnv* env, jclass, jlong bytes) {
  void* ptr = nullptr;
  CK(cudaHostAlloc(&ptr, (size_t)bytes, cudaHostAllocDefault), "cudaHostAlloc", nullptr);
  return env->NewDirectByteBuffer(ptr, bytes);
}

JNI(void, hostFree)(JNIEnv* env, jclass, jobject buf) { cudaFreeHost(env->GetDirectBufferAddress(buf)); }

JNI(jlong, address)(JNIEnv* env, jclass, jobject buf) {
  return reinterpret_cast<jlong>(env->GetDirectBufferAddress(buf));
}

/**
 * Uploads `elements` values of dtype (0 = BF16, 1 = F16, 2 = F32) from a direct (mapped) buffer as bf16, through
 * the two pinned staging buffers: while one chunk copies to the device, the next is converted into the other.
 */
JNI(void, upload)(JNIEnv* env, jclass, jlong h, jlong dst, jobject src, jint dtype, jlong elements) {
  Context* c = ctx(h);
  const char* in = (const char*)env->GetDirectBufferAddress(src);
  if (in == nullptr) { throwIse(env, "upload: source is not a direct buffer"); return; }
  size_t chunk = c->stagingBytes / 2;  // elements per chunk
  char* out = p<char>(dst);
  int which = 0;
  for (size_t from = 0; from < (size_t)elements; from += chunk, which ^= 1) {
    size_t n = elements - from < chunk ? elements - from : chunk;
    CK(cudaEventSynchronize(c->stagingDone[which]), "cudaEventSynchronize(staging)", );
    uint16_t* st = (uint16_t*)c->staging[which];
    if (dtype == 0) {
      memcpy(st, in + from * 2, n * 2);
    } else if (dtype == 1) {
      const uint16_t* s = (const uint16_t*)(in + from * 2);
      for (size_t i = 0; i < n; i++) st[i] = f32ToBf16(f16ToF32(s[i]));
    } else {
      const float* s = (const float*)(in + from * 4);
      for (size_t i = 0; i < n; i++) st[i] = f32ToBf16(s[i]);
    }
    CK(cudaMemcpyAsync(out + from * 2, st, n * 2, cudaMemcpyHostToDevice, c->stream), "cudaMemcpyAsync(upload)", );
    CK(cudaEventRecord(c->stagingDone[which], c->stream), "cudaEventRecord", );
  }
  CK(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize(upload)", );
}

JNI(void, uploadFloats)(JNIEnv* env, jclass, jlong h, jlong dst, jfloatArray src) {
  Context* c = ctx(h);
  jsize n = env->GetArrayLength(src);
  jfloat* data = env->GetFloatArrayElements(src, nullptr);
  cudaError_t e = cudaMemcpy(p<void>(dst), data, n * 4, cudaMemcpyHostToDevice);
  env->ReleaseFloatArrayElements(src, data, JNI_ABORT);
  CK(e, "cudaMemcpy(floats)", );
  (void)c;
}

JNI(void, copyAsync)(JNIEnv* env, jclass, jlong h, jlong dst, jlong src, jlong bytes) {
  CK(cudaMemcpyAsync(p<void>(dst), p<void>(src), (size_t)bytes, cudaMemcpyDefault, ctx(h)->stream),
     "cudaMemcpyAsync", );
}

JNI(void, memsetAsync)(JNIEnv* env, jclass, jlong h, jlong dst, jint value, jlong bytes) {
  CK(cudaMemsetAsync(p<void>(dst), value, (size_t)bytes, ctx(h)->stream), "cudaMemsetAsync", );
}

JNI(void, synchronize)(JNIEnv* env, jclass, jlong h) {
  CK(cudaStreamSynchronize(ctx(h)->stream), "cudaStreamSynchronize (a kernel of this step failed)", );
}

JNI(void, beginCapture)(JNIEnv* env, jclass, jlong h) {
  CK(cudaStreamBeginCapture(ctx(h)->stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture", );
}

/** Ends the capture and instantiates it; returns the executable graph, or 0 when discard is true. */
JNI(jlong, endCapture)(JNIEnv* env, jclass, jlong h, jboolean discard) {
  cudaGraph_t graph = nullptr;
  CK(cudaStreamEndCapture(ctx(h)->stream, &graph), "cudaStreamEndCapture", 0);
  if (discard) { cudaGraphDestroy(graph); return 0; }
  cudaGraphExec_t exec = nullptr;
  cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CK(e, "cudaGraphInstantiate", 0);
  return reinterpret_cast<jlong>(exec);
}

JNI(void, launchGraph)(JNIEnv* env, jclass, jlong h, jlong exec) {
  CK(cudaGraphLaunch(reinterpret_cast<cudaGraphExec_t>(exec), ctx(h)->stream), "cudaGraphLaunch", );
}

JNI(void, destroyGraph)(JNIEnv* env, jclass, jlong exec) {
  cudaGraphExecDestroy(reinterpret_cast<cudaGraphExec_t>(exec));
}

/** Device-to-device copy bandwidth in bytes/s, counting bytes read plus bytes written. */
JNI(jdouble, copyBandwidth)(JNIEnv* env, jclass, jlong h, jlong bytes, jint reps) {
  Context* c = ctx(h);
  void *a, *b;
  CK(cudaMalloc(&a, bytes), "cudaMalloc(bandwidth a)", 0);
  CK(cudaMalloc(&b, bytes), "cudaMalloc(bandwidth b)", 0);
  cudaMemsetAsync(a, 1, bytes, c->stream);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (int i = 0; i < 3; i++) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, c->stream);
  cudaEventRecord(e0, c->stream);
  for (int i = 0; i < reps; i++) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, c->stream);
  cudaEventRecord(e1, c->stream);
  CK(cudaEventSynchronize(e1), "bandwidth copies", 0);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * bytes * reps / (ms / 1e3);
}

// ---- kernels ----

JNI(void, embedding)(JNIEnv* env, jclass, jlong h, jlong out, jlong table, jlong ids, jint rows, jint hidden,
                     jint firstRow, jint tableRows) {
  launchEmbedding(ctx(h)->stream, p<bf16>(out), p<bf16>(table), p<int>(ids), rows, hidden, firstRow, tableRows);
  launched(env, "embedding kernel");
}

JNI(void, rmsNorm)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jlong w, jint rows, jint n,
                   jfloat eps) {
  launchRmsNorm(ctx(h)->stream, p<bf16>(out), p<bf16>(x), ldx, p<bf16>(w), rows, n, eps);
  launched(env, "rmsNorm kernel");
}

JNI(void, addRmsNorm)(JNIEnv* env, jclass, jlong h, jlong sum, jlong out, jlong a, jint lda, jlong b, jint ldb,
                      jlong w, jint rows, jint n, jfloat eps) {
  launchAddRmsNorm(ctx(h)->stream, p<bf16>(sum), p<bf16>(out), p<bf16>(a), lda, p<bf16>(b), ldb, p<bf16>(w), rows,
                   n, eps);
  launched(env, "addRmsNorm kernel");
}

JNI(void, add)(JNIEnv* env, jclass, jlong h, jlong out, jlong a, jint lda, jlong b, jint ldb, jint rows, jint n) {
  launchAdd(ctx(h)->stream, p<bf16>(out), p<bf16>(a), lda, p<bf16>(b), ldb, rows, n);
  launched(env, "add kernel");
}

JNI(void, siluMul)(JNIEnv* env, jclass, jlong h, jlong out, jlong gu, jint ld, jint rows, jint inter) {
  launchSiluMul(ctx(h)->stream, p<bf16>(out), p<bf16>(gu), ld, rows, inter);
  launched(env, "siluMul kernel");
}

JNI(void, rope)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jlong pos, jlong inv, jint rows,
                jint heads, jint headDim, jint rot, jboolean interleaved) {
  launchRope(ctx(h)->stream, p<bf16>(out), p<bf16>(x), ldx, p<int>(pos), p<float>(inv), rows, heads, headDim, rot,
             interleaved);
  launched(env, "rope kernel");
}

JNI(void, ropeWriteKv)(JNIEnv* env, jclass, jlong h, jlong k, jint ldk, jlong v, jint ldv, jlong kc, jlong vc,
                       jlong slots, jlong pos, jlong inv, jint rows, jint kvHeads, jint headDim, jint rot,
                       jboolean interleaved, jboolean rope) {
  launchRopeWriteKv(ctx(h)->stream, p<bf16>(k), ldk, p<bf16>(v), ldv, p<bf16>(kc), p<bf16>(vc), p<int>(slots),
                    p<int>(pos), p<float>(inv), rows, kvHeads, headDim, rot, interleaved, rope);
  launched(env, "ropeWriteKv kernel");
}

JNI(void, attention)(JNIEnv* env, jclass, jlong h, jlong out, jlong part, jlong counters, jlong q, jint ldq, jlong kc,
                     jlong vc,
                     jlong tokSeq, jlong pos, jlong tables, jint stride, jint blockSize, jint rows, jint heads,
                     jint kvHeads, jint headDim, jfloat scale, jint partition, jint splits) {
  if (!launchAttention(ctx(h)->stream, p<bf16>(out), p<float>(part), p<int>(counters), p<bf16>(q), ldq, p<bf16>(kc), p<bf16>(vc),
                       p<int>(tokSeq), p<int>(pos), p<int>(tables), stride, blockSize, rows, heads, kvHeads, headDim,
                       scale, partition, splits)) {
    char buf[240];
    snprintf(buf, sizeof buf, "attention: no kernel for %d query heads over %d KV heads with headDim %d (supported: "
             "query heads a multiple of the KV heads, any number per KV head; headDim 1..256)", heads, kvHeads,
             headDim);
    throwIse(env, buf);
    return;
  }
  launched(env, "attention kernel");
}

JNI(void, setGemvVariant)(JNIEnv*, jclass, jint v) { setGemvVariant(v); }

JNI(void, setPdl)(JNIEnv*, jclass, jboolean on) { setPdl(on); }

JNI(void, setAttentionVariant)(JNIEnv*, jclass, jint v) { setAttentionVariant(v); }

JNI(void, setAttentionSplitHeads)(JNIEnv*, jclass, jboolean on) { setAttentionSplitHeads(on); }

/** Whether the device can launch kernels programmatically dependent (sm_90 and later). */
JNI(jboolean, supportsPdl)(JNIEnv* env, jclass, jint device) {
  int major = 0;
  CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute", JNI_FALSE);
  return major >= 9 ? JNI_TRUE : JNI_FALSE;
}

/** Linear + SiLU·mul in one GEMV (rows <= 8); false when the kernel does not apply (the caller falls back). */
JNI(jboolean, linearSiluMul)(JNIEnv* env, jclass, jlong h, jlong y, jlong x, jint ldx, jlong w, jint rows, jint in,
                             jint inter) {
  if (!launchGemvSilu(ctx(h)->stream, p<bf16>(y), p<bf16>(x), ldx, p<bf16>(w), rows, in, inter)) return JNI_FALSE;
  return launched(env, "gemvSilu kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(void, ropeQkv)(JNIEnv* env, jclass, jlong h, jlong qOut, jlong q, jint ldq, jlong k, jint ldk, jlong v, jint ldv,
                   jlong kc, jlong vc, jlong slots, jlong pos, jlong inv, jint rows, jint heads, jint kvHeads,
                   jint headDim, jint rot, jboolean interleaved) {
  launchRopeQkv(ctx(h)->stream, p<bf16>(qOut), p<bf16>(q), ldq, p<bf16>(k), ldk, p<bf16>(v), ldv, p<bf16>(kc),
                p<bf16>(vc), p<int>(slots), p<int>(pos), p<float>(inv), rows, heads, kvHeads, headDim, rot,
                interleaved);
  launched(env, "ropeQkv kernel");
}

/**
 * Kernel self-check on random data: the fused gate_up GEMV + SiLU·mul against the GEMV followed by siluMul, for
 * `rows` rows, `in` inputs and `inter` outputs. Returns the number of output elements that differ bit for bit, or -1
 * when the fused kernel declines these shapes.
 */
JNI(jlong, selfTestGemvSilu)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint inter, jlong seed) {
  Context* c = ctx(h);
  size_t nw = (size_t)2 * inter * in, nx = (size_t)rows * in, ny = (size_t)rows * inter;
  uint16_t* hw = new uint16_t[nw];
  uint16_t* hx = new uint16_t[nx];
  unsigned long long z = (unsigned long long)seed;
  auto next = [&]() { z = z * 6364136223846793005ull + 1442695040888963407ull; return (float)((z >> 40) & 0xffff) / 65536.f - 0.5f; };
  for (size_t i = 0; i < nw; i++) hw[i] = f32ToBf16(next() * 0.05f);
  for (size_t i = 0; i < nx; i++) hx[i] = f32ToBf16(next() * 2.f);
  bf16 *w, *x, *gu, *y1, *y2;
  CK(cudaMalloc(&w, nw * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&x, nx * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&gu, (size_t)rows * 2 * inter * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&y1, ny * 2), "cudaMalloc(selfTest)", -2);
  CK(cudaMalloc(&y2, ny * 2), "cudaMalloc(selfTest)", -2);
  cudaMemcpy(w, hw, nw * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(x, hx, nx * 2, cudaMemcpyHostToDevice);
  long long diff = -1;
  if (launchGemvSilu(c->stream, y1, x, in, w, rows, in, inter)) {
    launchGemv(c->stream, gu, 2 * inter, false, x, in, w, nullptr, rows, in, 2 * inter);
    launchSiluMul(c->stream, y2, gu, 2 * inter, rows, inter);
    cudaError_t e = cudaStreamSynchronize(c->stream);
    if (e == cudaSuccess) {
      uint16_t* a = new uint16_t[ny];
      uint16_t* b = new uint16_t[ny];
      cudaMemcpy(a, y1, ny * 2, cudaMemcpyDeviceToHost);
      cudaMemcpy(b, y2, ny * 2, cudaMemcpyDeviceToHost);
      diff = 0;
      for (size_t i = 0; i < ny; i++) diff += a[i] != b[i];
      delete[] a;
      delete[] b;
    } else {
      ok(env, e, "selfTestGemvSilu kernels");
    }
  }
  cudaFree(w); cudaFree(x); cudaFree(gu); cudaFree(y1); cudaFree(y2);
  delete[] hw;
  delete[] hx;
  return diff;
}

/** Residual add + RMSNorm + gate_up GEMV + SiLU·mul in one kernel (rows <= 4); false when it does not apply. */
JNI(jboolean, addRmsNormLinearSiluMul)(JNIEnv* env, jclass, jlong h, jlong sum, jlong y, jlong a, jint lda, jlong b,
                                       jint ldb, jlong normW, jfloat eps, jlong w, jint rows, jint in, jint inter) {
  if (!launchAddRmsNormGemvSilu(ctx(h)->stream, p<bf16>(sum), p<bf16>(y), p<bf16>(a), lda, p<bf16>(b), ldb,
                                p<bf16>(normW), eps, p<bf16>(w), rows, in, inter)) {
    return JNI_FALSE;
  }
  return launched(env, "addRmsNorm+gemvSilu kernel") ? JNI_TRUE : JNI_FALSE;
}

/** Residual add + RMSNorm + QKV GEMV + RoPE + KV write in one kernel (rows <= 4); false when it does not apply. */
JNI(jboolean, addRmsNormQkvRope)(JNIEnv* env, jclass, jlong h, jlong sum, jlong qOut, jlong a, jint lda, jlong b,
                                 jint ldb, jlong normW, jfloat eps, jlong w, jlong bias, jint rows, jint in, jlong kc,
                                 jlong vc, jlong slots, jlong pos, jlong inv, jint heads, jint kvHeads, jint headDim,
                                 jint rot) {
  if (!launchAddRmsNormQkvRope(ctx(h)->stream, p<bf16>(sum), p<bf16>(qOut), p<bf16>(a), lda, p<bf16>(b), ldb,
                               p<bf16>(normW), eps, p<bf16>(w), p<bf16>(bias), rows, in, p<bf16>(kc), p<bf16>(vc),
                               p<int>(slots), p<int>(pos), p<float>(inv), heads, kvHeads, headDim, rot)) {
    return JNI_FALSE;
  }
  return launched(env, "addRmsNorm+qkv+rope kernel") ? JNI_TRUE : JNI_FALSE;
}

/** QKV GEMV + RoPE + KV write in one kernel (rows <= 8); false when it does not apply. */
JNI(jboolean, linearQkvRope)(JNIEnv* env, jclass, jlong h, jlong qOut, jlong x, jint ldx, jlong w, jlong bias,
                             jint rows, jint in, jlong kc, jlong vc, jlong slots, jlong pos, jlong inv, jint heads,
                             jint kvHeads, jint headDim, jint rot) {
  if (!launchGemvQkvRope(ctx(h)->stream, p<bf16>(qOut), p<bf16>(x), ldx, p<bf16>(w), p<bf16>(bias), rows, in,
                         p<bf16>(kc), p<bf16>(vc), p<int>(slots), p<int>(pos), p<float>(inv), heads, kvHeads, headDim,
                         rot)) {
    return JNI_FALSE;
  }
  return launched(env, "qkv+rope kernel") ? JNI_TRUE : JNI_FALSE;
}

namespace {
/** Device buffers of a self-check, freed together. */
struct Scratch {
  std::vector<void*> all;
  unsigned long long z;
  explicit Scratch(long long seed) : z((unsigned long long)seed) {}
  ~Scratch() {
    for (void* q : all) cudaFree(q);
  }
  float next() {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((z >> 40) & 0xffff) / 65536.f - 0.5f;
  }
  /** n zeroed bytes on the device, or null. */
  void* zeros(size_t n) {
    void* d = nullptr;
    if (cudaMalloc(&d, n) != cudaSuccess) return nullptr;
    all.push_back(d);
    cudaMemset(d, 0, n);
    return d;
  }
  /** n random bf16 in [-scale/2, scale/2), plus offset. */
  bf16* random(size_t n, float scale, float offset = 0.f) {
    std::vector<uint16_t> host(n);
    for (size_t i = 0; i < n; i++) host[i] = f32ToBf16(offset + next() * scale);
    bf16* d = (bf16*)zeros(n * 2);
    if (d != nullptr) cudaMemcpy(d, host.data(), n * 2, cudaMemcpyHostToDevice);
    return d;
  }
  template <typename V>
  V* upload(const std::vector<V>& v) {
    V* d = (V*)zeros(v.size() * sizeof(V));
    if (d != nullptr) cudaMemcpy(d, v.data(), v.size() * sizeof(V), cudaMemcpyHostToDevice);
    return d;
  }
};

/** The number of 16-bit elements that differ between two device arrays of n. */
long long differing(const void* x, const void* y, size_t n) {
  std::vector<uint16_t> a(n), b(n);
  cudaMemcpy(a.data(), x, n * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(b.data(), y, n * 2, cudaMemcpyDeviceToHost);
  long long d = 0;
  for (size_t i = 0; i < n; i++) d += a[i] != b[i];
  return d;
}
}  // namespace

/**
 * Kernel self-check on random data for the fused residual add + RMSNorm GEMVs, against the unfused kernels that the
 * steps run otherwise. kind 0: addRmsNorm → gate_up GEMV with SiLU·mul (out = inter); kind 1: addRmsNorm → QKV GEMV
 * with bias → RoPE of q and k and the KV write (out = query heads; 2 KV heads of 128, rotary dim 64, interleaved).
 * Returns the number of output elements (sums, activations, q, K and V cache) that differ bit for bit, -1 when the
 * fused kernel declines the shapes, -2 when device memory ran out.
 */
JNI(jlong, selfTestNormFused)(JNIEnv* env, jclass, jlong h, jint kind, jint rows, jint in, jint out, jlong seed) {
  Context* c = ctx(h);
  Scratch m(seed);
  const float eps = 1e-5f;
  bf16* a = m.random((size_t)rows * in, 4.f);
  bf16* b = m.random((size_t)rows * in, 4.f);
  bf16* nw = m.random(in, 0.5f, 1.f);
  bf16* sum1 = (bf16*)m.zeros((size_t)rows * in * 2);
  bf16* sum2 = (bf16*)m.zeros((size_t)rows * in * 2);
  bf16* xn = (bf16*)m.zeros((size_t)rows * in * 2);
  if (!a || !b || !nw || !sum1 || !sum2 || !xn) return -2;
  long long diff = 0;
  if (kind == 0) {
    int inter = out;
    bf16* w = m.random((size_t)2 * inter * in, 0.05f);
    bf16* gu = (bf16*)m.zeros((size_t)rows * 2 * inter * 2);
    bf16* y1 = (bf16*)m.zeros((size_t)rows * inter * 2);
    bf16* y2 = (bf16*)m.zeros((size_t)rows * inter * 2);
    if (!w || !gu || !y1 || !y2) return -2;
    if (!launchAddRmsNormGemvSilu(c->stream, sum1, y1, a, in, b, in, nw, eps, w, rows, in, inter)) return -1;
    launchAddRmsNorm(c->stream, sum2, xn, a, in, b, in, nw, rows, in, eps);
    if (!launchGemvSilu(c->stream, y2, xn, in, w, rows, in, inter)) {
      launchGemv(c->stream, gu, 2 * inter, false, xn, in, w, nullptr, rows, in, 2 * inter);
      launchSiluMul(c->stream, y2, gu, 2 * inter, rows, inter);
    }
    if (!ok(env, cudaStreamSynchronize(c->stream), "selfTestNormFused kernels")) return -2;
    diff = differing(y1, y2, (size_t)rows * inter);
  } else {  // kind 1: with the norm (against addRmsNorm first); kind 2: the GEMV on x = a (no norm, no sum)
    int heads = out, kvHeads = 2, headDim = 128, rot = 64, slotsTotal = 128;  // slots 3 + 13t, t < 8
    int qW = heads * headDim, kvW = kvHeads * headDim, n = qW + 2 * kvW;
    bf16* w = m.random((size_t)n * in, 0.05f);
    bf16* bias = m.random(n, 0.5f);
    bf16* qkv = (bf16*)m.zeros((size_t)rows * n * 2);
    bf16* q1 = (bf16*)m.zeros((size_t)rows * qW * 2);
    bf16* q2 = (bf16*)m.zeros((size_t)rows * qW * 2);
    bf16* kc1 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* vc1 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* kc2 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* vc2 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    std::vector<int> slots, pos;
    for (int t = 0; t < rows; t++) {
      slots.push_back(3 + 13 * t);
      pos.push_back(7 + 1021 * t);
    }
    std::vector<float> invHost(rot / 2);
    for (int i = 0; i < rot / 2; i++) invHost[i] = 1.f / powf(10000.f, 2.f * i / rot);
    int* ds = m.upload(slots);
    int* dp = m.upload(pos);
    float* di = m.upload(invHost);
    if (!w || !bias || !qkv || !q1 || !q2 || !kc1 || !vc1 || !kc2 || !vc2 || !ds || !dp || !di) return -2;
    if (kind == 1 ? !launchAddRmsNormQkvRope(c->stream, sum1, q1, a, in, b, in, nw, eps, w, bias, rows, in, kc1, vc1,
                                             ds, dp, di, heads, kvHeads, headDim, rot)
                  : !launchGemvQkvRope(c->stream, q1, a, in, w, bias, rows, in, kc1, vc1, ds, dp, di, heads, kvHeads,
                                       headDim, rot)) {
      return -1;
    }
    if (kind == 1) launchAddRmsNorm(c->stream, sum2, xn, a, in, b, in, nw, rows, in, eps);
    launchGemv(c->stream, qkv, n, false, kind == 1 ? xn : a, in, w, bias, rows, in, n);
    launchRopeQkv(c->stream, q2, qkv, n, qkv + qW, n, qkv + qW + kvW, n, kc2, vc2, ds, dp, di, rows, heads, kvHeads,
                  headDim, rot, true);
    if (!ok(env, cudaStreamSynchronize(c->stream), "selfTestNormFused kernels")) return -2;
    diff = differing(q1, q2, (size_t)rows * qW) + differing(kc1, kc2, (size_t)slotsTotal * kvW) +
           differing(vc1, vc2, (size_t)slotsTotal * kvW);
    if (kind == 2) return diff;
  }
  return diff + differing(sum1, sum2, (size_t)rows * in);
}

namespace {
/** The kernel of an attention plan in words, e.g. "attention2K<G=12, DPL=4>, 2 blocks per KV head". */
std::string attentionKernelName(const AttentionPlan& p) {
  switch (p.kernel) {
    case ATTN_FIRST:
      return "attentionK<G=" + std::to_string(p.group) + ", DPL=" + std::to_string(p.dpl) + ">";
    case ATTN_CHUNKED:
      return "attention2K<G=" + std::to_string(p.group) + ", DPL=" + std::to_string(p.dpl) + ">" +
             (p.hg > 1 ? ", " + std::to_string(p.hg) + " blocks per KV head" : "");
    case ATTN_ANY:
      return "attentionAnyK (a warp per query head)";
    default:
      return "none";
  }
}

inline float bf16ToF32(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/** A self-check's step: sequences of (context length, query tokens at its end), and how attention splits it. */
struct AttnCase {
  std::vector<std::pair<int, int>> seqs;
  int partition;  // 0: dynamic (graph steps)
  int splits;
  bool counters;  // whether the kernel may merge its splits itself
};

AttnCase attnCase(int mode, int kvHeads) {
  switch (mode) {
    case 0:  // small-batch decode: per-query-head blocks; static splits of 64 that the kernel merges
      return {{{1, 1}, {45, 1}, {300, 1}}, 64, 5, true};
    case 1: {  // batched decode (rows × KV heads >= 32): per-KV-head blocks; graph-style dynamic splits
      AttnCase c{{}, 0, 4, true};
      int n = std::max(16, 32 / kvHeads + 1);
      for (int i = 0; i < n; i++) c.seqs.push_back({1 + (i * 37) % 150, 1});
      return c;
    }
    case 2:  // chunked prefill next to a fresh prompt and a decode token; splits merged by attentionCombineK
      return {{{64, 24}, {9, 9}, {131, 1}}, 32, 5, false};
    case 3:  // one split: the kernel writes the output directly
      return {{{200, 1}, {7, 1}, {33, 1}, {100, 2}}, 256, 1, true};
    default:  // more splits (282) than the kernel merges itself (256): attentionCombineK
      return {{{9000, 1}, {40, 1}}, 32, 282, true};
  }
}

/**
 * out (rows, heads·headDim) of causal softmax attention in double precision, from the same bf16 inputs; the (token,
 * head) pairs are spread over the host's cores.
 */
void attentionReference(std::vector<double>& out, const std::vector<uint16_t>& q, int ldq,
                        const std::vector<uint16_t>& kc, const std::vector<uint16_t>& vc, const std::vector<int>& slotOf,
                        const std::vector<int>& pos, const std::vector<int>& seqStart, int heads, int kvHeads,
                        int headDim, double scale) {
  int rows = (int)pos.size(), group = heads / kvHeads;
  auto one = [&](int t, int h, std::vector<double>& w) {
    int kh = h / group, n = pos[t] + 1;
    const int* slots = slotOf.data() + seqStart[t];
    w.assign(n, 0.0);
    double mx = -1e300;
    for (int p = 0; p < n; p++) {
      const uint16_t* k = kc.data() + ((size_t)slots[p] * kvHeads + kh) * headDim;
      const uint16_t* qh = q.data() + (size_t)t * ldq + (size_t)h * headDim;
      double s = 0;
      for (int d = 0; d < headDim; d++) s += (double)bf16ToF32(qh[d]) * bf16ToF32(k[d]);
      w[p] = s * scale;
      mx = std::max(mx, w[p]);
    }
    double sum = 0;
    for (int p = 0; p < n; p++) sum += (w[p] = exp(w[p] - mx));
    double* o = out.data() + ((size_t)t * heads + h) * headDim;
    for (int d = 0; d < headDim; d++) o[d] = 0;
    for (int p = 0; p < n; p++) {
      const uint16_t* v = vc.data() + ((size_t)slots[p] * kvHeads + kh) * headDim;
      for (int d = 0; d < headDim; d++) o[d] += w[p] * bf16ToF32(v[d]);
    }
    for (int d = 0; d < headDim; d++) o[d] /= sum;
  };
  int threads = (int)std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; i++) {
    pool.emplace_back([&, i]() {
      std::vector<double> w;
      for (int j = i; j < rows * heads; j += threads) one(j / heads, j % heads, w);
    });
  }
  for (auto& th : pool) th.join();
}
}  // namespace

/** The attention kernel that a step of `rows` tokens runs for these heads, in words ("none": no kernel). */
JNI(jstring, attentionKernel)(JNIEnv* env, jclass, jint rows, jint heads, jint kvHeads, jint headDim) {
  return env->NewStringUTF(attentionKernelName(planAttention(rows, heads, kvHeads, headDim)).c_str());
}

/**
 * Kernel self-check of attention on random data against a double-precision CPU reference: `heads` query heads over
 * `kvHeads` KV heads of headDim, in the step shape `mode` of attnCase (0 small-batch decode, 1 batched decode with
 * dynamic splits, 2 chunked prefill, 3 one split, 4 more splits than the kernel merges), KV blocks of 16 in shuffled
 * order. An output element passes when |out − ref| <= 2^-8·|ref| + 2e-5 (bf16 rounding of the fp32 result).
 * Returns {elements outside that bound, max |out − ref|, max |out − ref| / bound, rows}, or null after an exception
 * (no kernel for the shape, a CUDA error, device memory).
 */
JNI(jdoubleArray, selfTestAttention)(JNIEnv* env, jclass, jlong h, jint heads, jint kvHeads, jint headDim, jint mode,
                                     jlong seed) {
  Context* c = ctx(h);
  Scratch m(seed);
  AttnCase ac = attnCase(mode, kvHeads);
  const int bs = 16;
  int rows = 0, blocks = 0, seqs = (int)ac.seqs.size(), stride = 0;
  for (auto& sq : ac.seqs) {
    rows += sq.second;
    stride = std::max(stride, (sq.first + bs - 1) / bs);
  }
  blocks = seqs * stride;
  std::vector<int> perm(blocks), tables((size_t)seqs * stride), tokSeq, pos, seqStart, slotOf;
  for (int i = 0; i < blocks; i++) perm[i] = i;
  for (int i = blocks - 1; i > 0; i--) std::swap(perm[i], perm[(int)((m.next() + 0.5f) * (i + 1)) % (i + 1)]);
  for (int sq = 0; sq < seqs; sq++) {
    int ctxLen = ac.seqs[sq].first, start = (int)slotOf.size();
    for (int b = 0; b < stride; b++) tables[(size_t)sq * stride + b] = perm[sq * stride + b];
    for (int p = 0; p < ctxLen; p++) slotOf.push_back(tables[(size_t)sq * stride + p / bs] * bs + p % bs);
    for (int p = ctxLen - ac.seqs[sq].second; p < ctxLen; p++) {
      tokSeq.push_back(sq * stride);
      pos.push_back(p);
      seqStart.push_back(start);
    }
  }
  int width = heads * headDim, ldq = width + 2 * kvHeads * headDim;
  size_t kvElems = (size_t)blocks * bs * kvHeads * headDim;
  std::vector<uint16_t> hq((size_t)rows * ldq), hk(kvElems), hv(kvElems);
  for (auto& x : hq) x = f32ToBf16(m.next() * 6.f);
  for (auto& x : hk) x = f32ToBf16(m.next() * 2.f);
  for (auto& x : hv) x = f32ToBf16(m.next());
  bf16* dq = (bf16*)m.upload(hq);
  bf16* dk = (bf16*)m.upload(hk);
  bf16* dv = (bf16*)m.upload(hv);
  int* dTables = m.upload(tables);
  int* dTokSeq = m.upload(tokSeq);
  int* dPos = m.upload(pos);
  bf16* dOut = (bf16*)m.zeros((size_t)rows * width * 2);
  float* dPart = (float*)m.zeros((size_t)rows * heads * ac.splits * (headDim + 2) * 4);
  int* dCounters = (int*)m.zeros((size_t)rows * heads * 4);
  if (!dq || !dk || !dv || !dTables || !dTokSeq || !dPos || !dOut || !dPart || !dCounters) {
    throwIse(env, "selfTestAttention: cudaMalloc failed");
    return nullptr;
  }
  float scale = 1.f / sqrtf((float)headDim);
  // tokSeq holds each token's table row offset in ints, so the table stride is 1 (as CudaForwardStep passes it)
  if (!launchAttention(c->stream, dOut, dPart, ac.counters ? dCounters : nullptr, dq, ldq, dk, dv, dTokSeq, dPos,
                       dTables, 1, bs, rows, heads, kvHeads, headDim, scale, ac.partition, ac.splits)) {
    throwIse(env, "selfTestAttention: no attention kernel for " + std::to_string(heads) + " query heads over " +
                  std::to_string(kvHeads) + " KV heads, headDim " + std::to_string(headDim));
    return nullptr;
  }
  if (!launched(env, "selfTestAttention kernels") || !ok(env, cudaStreamSynchronize(c->stream), "selfTestAttention")) {
    return nullptr;
  }
  std::vector<uint16_t> got((size_t)rows * width);
  std::vector<int> counters((size_t)rows * heads);
  cudaMemcpy(got.data(), dOut, got.size() * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(counters.data(), dCounters, counters.size() * 4, cudaMemcpyDeviceToHost);
  std::vector<double> ref((size_t)rows * width);
  attentionReference(ref, hq, ldq, hk, hv, slotOf, pos, seqStart, heads, kvHeads, headDim, scale);
  double bad = 0, maxDiff = 0, worst = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    double d = fabs((double)bf16ToF32(got[i]) - ref[i]), bound = fabs(ref[i]) / 256 + 2e-5;
    if (!(d <= bound)) bad++;
    if (d > maxDiff || d != d) maxDiff = d;
    worst = std::max(worst, d / bound);
  }
  for (int v : counters) bad += v != 0;  // the kernel leaves its split counters at 0 for the next step
  double res[4] = {bad, maxDiff, worst, (double)rows};
  jdoubleArray out = env->NewDoubleArray(4);
  env->SetDoubleArrayRegion(out, 0, 4, res);
  return out;
}

// ---- profiling: events recorded around each op of an eager step, with a spin kernel ahead of each ----

JNI(void, profileEvents)(JNIEnv* env, jclass, jlong h, jint n) {
  Context* c = ctx(h);
  if (c->profileEvents >= n) return;
  for (int i = 0; i < c->profileEvents; i++) cudaEventDestroy(c->profile[i]);
  delete[] c->profile;
  c->profile = new cudaEvent_t[n];
  c->profileEvents = n;
  for (int i = 0; i < n; i++) CK(cudaEventCreate(&c->profile[i]), "cudaEventCreate(profile)", );
}

JNI(void, profileMark)(JNIEnv* env, jclass, jlong h, jint i, jint spinMicros) {
  Context* c = ctx(h);
  if (i < 0 || i >= c->profileEvents) { throwIse(env, "profile event index out of range"); return; }
  if (spinMicros > 0) {
    launchSpin(c->stream, 1000LL * spinMicros);
    launched(env, "spin kernel");
  }
  CK(cudaEventRecord(c->profile[i], c->stream), "cudaEventRecord(profile)", );
}

/** Milliseconds between events (2i, 2i + 1) for i < n/2, after waiting for the stream. */
JNI(jfloatArray, profileElapsed)(JNIEnv* env, jclass, jlong h, jint n) {
  Context* c = ctx(h);
  CK(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize(profile)", nullptr);
  jfloatArray out = env->NewFloatArray(n / 2);
  for (int i = 0; i < n / 2; i++) {
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, c->profile[2 * i], c->profile[2 * i + 1]), "cudaEventElapsedTime", nullptr);
    env->SetFloatArrayRegion(out, i, 1, &ms);
  }
  return out;
}

JNI(void, gather)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jlong idx, jint rows, jint cols,
                  jint elemBytes) {
  launchGather(ctx(h)->stream, p<void>(out), p<void>(x), ldx, p<int>(idx), rows, cols, elemBytes);
  launched(env, "gather kernel");
}

/** y (rows, out) = x (rows, in) · Wᵀ (+ bias): the GEMV kernel for rows <= 8 when allowed, else cuBLAS. */
JNI(void, linear)(JNIEnv* env, jclass, jlong h, jlong y, jint ldy, jboolean f32Out, jlong x, jint ldx, jlong w,
                  jlong bias, jint rows, jint in, jint out, jboolean allowGemv) {
  Context* c = ctx(h);
  if (allowGemv && launchGemv(c->stream, p<void>(y), ldy, f32Out, p<bf16>(x), ldx, p<bf16>(w), p<bf16>(bias), rows,
                              in, out)) {
    launched(env, "gemv kernel");
    return;
  }
  float alpha = 1.f, beta = 0.f;
  // Column-major view: Yᵀ (out × rows) = W (in × out)ᵀ · Xᵀ (in × rows).
  cublasStatus_t st = c->cublas.gemmEx(c->handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &alpha, p<void>(w),
                                       R_16BF, in, p<void>(x), R_16BF, ldx, &beta, p<void>(y),
                                       f32Out ? R_32F : R_16BF, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st != 0) {
    char buf[200];
    snprintf(buf, sizeof buf, "cublasGemmEx failed with status %d (m=%d n=%d k=%d)", st, out, rows, in);
    throwIse(env, buf);
    return;
  }
  if (bias != 0) {
    if (f32Out) { throwIse(env, "linear: bias with fp32 output is not supported"); return; }
    launchAddBias(c->stream, p<bf16>(y), ldy, p<bf16>(bias), rows, out);
    launched(env, "addBias kernel");
  }
}

JNI(void, sample)(JNIEnv* env, jclass, jlong h, jlong outTok, jlong logits, jint ldl, jint vocab, jlong params,
                  jint rows) {
  launchSample(ctx(h)->stream, p<int>(outTok), p<float>(logits), ldl, vocab, p<SampleParams>(params), rows);
  launched(env, "sample kernel");
}

JNI(void, toFloat)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jint rows, jint cols) {
  launchToFloat(ctx(h)->stream, p<float>(out), p<bf16>(x), ldx, rows, cols);
  launched(env, "toFloat kernel");
}

JNI(void, headRmsNorm)(JNIEnv* env, jclass, jlong h, jlong out, jint ldo, jlong x, jint ldx, jlong w, jint rows,
                       jint heads, jint headDim, jfloat eps) {
  launchHeadRmsNorm(ctx(h)->stream, p<bf16>(out), ldo, p<bf16>(x), ldx, p<bf16>(w), rows, heads, headDim, eps);
  launched(env, "headRmsNorm kernel");
}

JNI(void, routerLogits)(JNIEnv* env, jclass, jlong h, jlong logits, jlong x, jint ldx, jlong w, jint rows,
                        jint hidden, jint experts) {
  launchRouterLogits(ctx(h)->stream, p<float>(logits), p<bf16>(x), ldx, p<float>(w), rows, hidden, experts);
  launched(env, "routerLogits kernel");
}

JNI(jboolean, groupedGemv)(JNIEnv* env, jclass, jlong h, jlong y, jlong x, jlong w, jlong expertIds, jlong offsets,
                           jint groups, jint in, jint out) {
  if (!launchGroupedGemv(ctx(h)->stream, p<bf16>(y), p<bf16>(x), p<bf16>(w), p<int>(expertIds), p<int>(offsets),
                         groups, in, out)) {
    return JNI_FALSE;
  }
  return launched(env, "groupedGemv kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(void, moeCombine)(JNIEnv* env, jclass, jlong h, jlong out, jint ldo, jlong d, jlong rowOf, jlong weight,
                      jint rows, jint k, jint hidden) {
  launchMoeCombine(ctx(h)->stream, p<bf16>(out), ldo, p<bf16>(d), p<int>(rowOf), p<float>(weight), rows, k, hidden);
  launched(env, "moeCombine kernel");
}

JNI(jlongArray, deviceMemInfo)(JNIEnv* env, jclass, jint device) { return memInfoOf(env, device); }

// ---- NCCL (dlopen'ed like cuBLAS): the collectives of tensor parallelism ----

namespace {
// from nccl.h (stable ABI since NCCL 2): results are ints, 0 = ncclSuccess; ncclSum = 0; ncclFloat32 = 7,
// ncclBfloat16 = 9; a communicator is an opaque pointer
typedef int (*NcclCommInitAllFn)(void** comms, int ndev, const int* devlist);
typedef int (*NcclAllReduceFn)(const void*, void*, size_t, int, int, void*, cudaStream_t);
typedef int (*NcclAllGatherFn)(const void*, void*, size_t, int, void*, cudaStream_t);
typedef int (*NcclCommFn)(void*);
typedef const char* (*NcclErrorStringFn)(int);
typedef int (*NcclGetVersionFn)(int*);

struct Nccl {
  void* lib = nullptr;
  NcclCommInitAllFn commInitAll;
  NcclAllReduceFn allReduce;
  NcclAllGatherFn allGather;
  NcclCommFn commAbort, commDestroy;
  NcclErrorStringFn errorString;
  NcclGetVersionFn getVersion;
} g_nccl;
std::mutex g_ncclLock;

bool loadNccl(JNIEnv* env, const char* path) {
  std::lock_guard<std::mutex> lock(g_ncclLock);
  if (g_nccl.lib != nullptr) return true;
  std::string tried;
  const char* const candidates[] = {path, "libnccl.so.2", "/usr/lib/x86_64-linux-gnu/libnccl.so.2",
                                    "/usr/local/cuda/lib64/libnccl.so.2"};
  void* lib = dlopenFirst(candidates, tried);
  if (lib == nullptr) {
    throwIse(env, "NCCL not found, which tensor parallelism on the CUDA backend needs; set property cuda.ncclPath "
                  "to libnccl.so.2. Tried:" + tried);
    return false;
  }
  Nccl n;
  n.lib = lib;
  n.commInitAll = (NcclCommInitAllFn)dlsym(lib, "ncclCommInitAll");
  n.allReduce = (NcclAllReduceFn)dlsym(lib, "ncclAllReduce");
  n.allGather = (NcclAllGatherFn)dlsym(lib, "ncclAllGather");
  n.commAbort = (NcclCommFn)dlsym(lib, "ncclCommAbort");
  n.commDestroy = (NcclCommFn)dlsym(lib, "ncclCommDestroy");
  n.errorString = (NcclErrorStringFn)dlsym(lib, "ncclGetErrorString");
  n.getVersion = (NcclGetVersionFn)dlsym(lib, "ncclGetVersion");
  if (!n.commInitAll || !n.allReduce || !n.allGather || !n.commAbort || !n.commDestroy || !n.errorString ||
      !n.getVersion) {
    dlclose(lib);
    throwIse(env, "the NCCL library that was found lacks ncclCommInitAll/ncclAllReduce/ncclAllGather/ncclCommAbort");
    return false;
  }
  g_nccl = n;
  return true;
}

/** NCCL's data type for the bridge's dtype code (0 = bf16, 1 = fp32): ncclBfloat16 = 9, ncclFloat32 = 7. */
int ncclType(jint dtype) { return dtype == 0 ? 9 : 7; }

bool ncclOk(JNIEnv* env, int r, const char* what) {
  if (r == 0) return true;
  throwIse(env, std::string(what) + " failed: NCCL error " + std::to_string(r) + " (" + g_nccl.errorString(r) + ")");
  return false;
}
}  // namespace

/** Loads NCCL (once) and returns its version code, e.g. 22703 for 2.27.3. */
JNI(jint, ncclVersion)(JNIEnv* env, jclass, jstring path) {
  const char* s = path ? env->GetStringUTFChars(path, nullptr) : nullptr;
  bool loaded = loadNccl(env, s);
  if (s) env->ReleaseStringUTFChars(path, s);
  if (!loaded) return 0;
  int v = 0;
  if (!ncclOk(env, g_nccl.getVersion(&v), "ncclGetVersion")) return 0;
  return v;
}

/** One communicator per device of `devices` (rank i on devices[i]), all in this process. */
JNI(jlongArray, ncclInitAll)(JNIEnv* env, jclass, jintArray devices) {
  if (g_nccl.lib == nullptr) { throwIse(env, "ncclInitAll: NCCL is not loaded (call ncclVersion first)"); return nullptr; }
  jsize n = env->GetArrayLength(devices);
  std::vector<int> devs(n);
  env->GetIntArrayRegion(devices, 0, n, devs.data());
  std::vector<void*> comms(n, nullptr);
  int r = g_nccl.commInitAll(comms.data(), n, devs.data());
  t_device = -1;  // NCCL changes the current device
  if (!ncclOk(env, r, "ncclCommInitAll")) return nullptr;
  jlongArray out = env->NewLongArray(n);
  std::vector<jlong> v(n);
  for (int i = 0; i < n; i++) v[i] = reinterpret_cast<jlong>(comms[i]);
  env->SetLongArrayRegion(out, 0, n, v.data());
  return out;
}

/** Sum over the ranks of `count` elements (dtype 0 = bf16, 1 = fp32), on the context's stream (capturable). */
JNI(void, ncclAllReduce)(JNIEnv* env, jclass, jlong h, jlong comm, jlong send, jlong recv, jlong count, jint dtype) {
  Context* c = ctx(h);
  ncclOk(env, g_nccl.allReduce(p<void>(send), p<void>(recv), (size_t)count, ncclType(dtype), 0,
                               reinterpret_cast<void*>(comm), c->stream), "ncclAllReduce");
}

/** recv = the ranks' `count` elements each, in rank order (dtype 0 = bf16, 1 = fp32), on the context's stream. */
JNI(void, ncclAllGather)(JNIEnv* env, jclass, jlong h, jlong comm, jlong send, jlong recv, jlong count, jint dtype) {
  Context* c = ctx(h);
  ncclOk(env, g_nccl.allGather(p<void>(send), p<void>(recv), (size_t)count, ncclType(dtype),
                               reinterpret_cast<void*>(comm), c->stream), "ncclAllGather");
}

JNI(void, ncclAbort)(JNIEnv* env, jclass, jlong comm) {
  ncclOk(env, g_nccl.commAbort(reinterpret_cast<void*>(comm)), "ncclCommAbort");
  t_device = -1;
}

JNI(void, ncclDestroy)(JNIEnv* env, jclass, jlong comm) {
  ncclOk(env, g_nccl.commDestroy(reinterpret_cast<void*>(comm)), "ncclCommDestroy");
  t_device = -1;
}

/** A strided copy on the context's stream: `rows` rows of `widthBytes`, from pitch `spitch` to pitch `dpitch`. */
JNI(void, copy2dAsync)(JNIEnv* env, jclass, jlong h, jlong dst, jlong dpitch, jlong src, jlong spitch,
                       jlong widthBytes, jlong rows) {
  Context* c = ctx(h);
  CK(cudaMemcpy2DAsync(p<void>(dst), (size_t)dpitch, p<void>(src), (size_t)spitch, (size_t)widthBytes, (size_t)rows,
                       cudaMemcpyDeviceToDevice, c->stream), "cudaMemcpy2DAsync", );
}

// Hook for sampling_ext.cu (logit processing and logprobs): a context's stream, its device made current.
extern "C" cudaStream_t autoglmContextStream(jlong h) { return ctx(h)->stream; }

// JNI entry points of io.autoglm.cuda.CudaNative for NCCL, dlopen'ed like cuBLAS: the collectives of tensor
// parallelism.
#include "bridge.cuh"

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

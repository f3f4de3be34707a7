// JNI bridge of io.autoglm.cuda.CudaNative: device context, memory, uploads, cuBLAS (dlopen'ed), graphs, copies,
// profiling events and the fusion limits. The kernels' entry points are in bridge_ops.cu, NCCL's in bridge_nccl.cu.
// Every failure throws a Java IllegalStateException whose message names the call and the CUDA error.
#include "bridge.cuh"

thread_local int t_device = -1;

namespace {

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


}  // namespace

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
  c->lt = nullptr;
  const char* path = cublasPath ? env->GetStringUTFChars(cublasPath, nullptr) : nullptr;
  bool loaded = loadCublas(env, c->cublas, path);
  if (loaded) gemmLtInit(c, path);  // libcublasLt is optional: without it cuda.gemm=lt* runs cublasGemmEx
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
  gemmLtFree(c);
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

JNI(jlongArray, deviceMemInfo)(JNIEnv* env, jclass, jint device) { return memInfoOf(env, device); }

/** A strided copy on the context's stream: `rows` rows of `widthBytes`, from pitch `spitch` to pitch `dpitch`. */
JNI(void, copy2dAsync)(JNIEnv* env, jclass, jlong h, jlong dst, jlong dpitch, jlong src, jlong spitch,
                       jlong widthBytes, jlong rows) {
  Context* c = ctx(h);
  CK(cudaMemcpy2DAsync(p<void>(dst), (size_t)dpitch, p<void>(src), (size_t)spitch, (size_t)widthBytes, (size_t)rows,
                       cudaMemcpyDeviceToDevice, c->stream), "cudaMemcpy2DAsync", );
}

/** {FUSE_GEMV_MAX_ROWS, FUSE_NORM_MAX_ROWS, FUSE_NORM_MAX_SMEM_BYTES, FUSE_NORM_MAX_IN} (kernels.cuh). */
JNI(jintArray, fusionLimits)(JNIEnv* env, jclass) {
  jint v[4] = {FUSE_GEMV_MAX_ROWS, FUSE_NORM_MAX_ROWS, FUSE_NORM_MAX_SMEM_BYTES, FUSE_NORM_MAX_IN};
  jintArray out = env->NewIntArray(4);
  env->SetIntArrayRegion(out, 0, 4, v);
  return out;
}

// Hook for sampling_ext.cu (logit processing and logprobs): a context's stream, its device made current.
extern "C" cudaStream_t autoglmContextStream(jlong h) { return ctx(h)->stream; }

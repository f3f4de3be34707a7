// The bf16 GEMMs through cuBLASLt (cuda.gemm = lt | lt-tuned): per shape a cached matmul descriptor and layouts and
// the heuristic's candidates; lt runs the first candidate, lt-tuned the fastest of cublasGemmEx and every candidate,
// timed on the device at the shape's first call outside graph capture. The QKV bias is the Lt bias epilogue (added
// in fp32 before the one rounding to bf16, as the small-batch GEMV adds it). Any Lt failure sends that shape to
// cublasGemmEx, with one log line (CudaNative.gemmNotes), never a silent wrong result.
//
// Determinism: cuBLAS documents every routine, cublasLtMatmul included, as giving the same bits run to run on one
// architecture and SM count with one stream active (cuBLAS docs, "Results Reproducibility"); the only opt-in
// exceptions are the atomics-mode routines (symv/hemv), not GEMM, and cublasLt.h describes its split-K reductions as
// ordered ("in place" uses counters "to guarantee the sequentiality"; the others reduce in a separate step). So no
// candidate is excluded for determinism; the self-check (gemm_lt_check.cu) runs the chosen algorithm twice and
// compares the bits. Candidates are excluded for precision: split-K reducing in the output type (bf16) sums rounded
// partials (build() keeps reduction schemes NONE and COMPUTE_TYPE for bf16 outputs).
#include "bridge.cuh"

namespace {

template <typename F>
bool sym(void* lib, F& f, const char* name) {
  f = (F)dlsym(lib, name);
  return f != nullptr;
}

bool loadLt(GemmLt& lt, const char* cublasPath) {
  // libcublasLt next to a cuda.cublasPath given as a file path first, then by soname (libcublas.so loads it too)
  const char* slash = cublasPath ? strrchr(cublasPath, '/') : nullptr;
  std::string beside13, beside12;
  if (slash != nullptr) {
    std::string dir(cublasPath, slash - cublasPath + 1);
    beside13 = dir + "libcublasLt.so.13";
    beside12 = dir + "libcublasLt.so.12";
  }
  const char* const candidates[] = {beside13.c_str(), beside12.c_str(), "libcublasLt.so.13", "libcublasLt.so.12",
                                    "/usr/local/cuda/lib64/libcublasLt.so.13",
                                    "/usr/local/cuda/lib64/libcublasLt.so.12"};
  lt.lib = dlopenFirst(candidates, lt.tried);
  if (lt.lib == nullptr) return false;
  bool all = sym(lt.lib, lt.create, "cublasLtCreate") && sym(lt.lib, lt.destroy, "cublasLtDestroy") &&
             sym(lt.lib, lt.version, "cublasLtGetVersion") &&
             sym(lt.lib, lt.descCreate, "cublasLtMatmulDescCreate") &&
             sym(lt.lib, lt.descDestroy, "cublasLtMatmulDescDestroy") &&
             sym(lt.lib, lt.descSet, "cublasLtMatmulDescSetAttribute") &&
             sym(lt.lib, lt.layoutCreate, "cublasLtMatrixLayoutCreate") &&
             sym(lt.lib, lt.layoutDestroy, "cublasLtMatrixLayoutDestroy") &&
             sym(lt.lib, lt.prefCreate, "cublasLtMatmulPreferenceCreate") &&
             sym(lt.lib, lt.prefDestroy, "cublasLtMatmulPreferenceDestroy") &&
             sym(lt.lib, lt.prefSet, "cublasLtMatmulPreferenceSetAttribute") &&
             sym(lt.lib, lt.heuristic, "cublasLtMatmulAlgoGetHeuristic") && sym(lt.lib, lt.matmul, "cublasLtMatmul") &&
             sym(lt.lib, lt.algoGet, "cublasLtMatmulAlgoConfigGetAttribute");
  if (!all || lt.create(&lt.handle) != 0) {
    lt.tried += "\n  (loaded, but it lacks a cublasLt entry point or cublasLtCreate failed)";
    dlclose(lt.lib);
    lt.lib = nullptr;
    return false;
  }
  return true;
}

/** The largest power of two up to 256 that divides the address and the leading dimension in bytes. */
int alignment(const void* p, long long ldBytes) {
  uintptr_t v = (uintptr_t)p | (uintptr_t)ldBytes;
  int a = 256;
  while (a > 1 && (v % a) != 0) a >>= 1;
  return a;
}

std::string shapeText(const LtKey& k) {
  char buf[200];
  snprintf(buf, sizeof buf, "y (%d × %d, ld %d, %s) = x (%d × %d, ld %d) · Wᵀ%s", k.rows, k.out, k.ldy,
           k.f32Out ? "fp32" : "bf16", k.rows, k.in, k.ldx, k.bias ? " + bias" : "");
  return buf;
}

bool capturing(cudaStream_t s) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  return cudaStreamIsCapturing(s, &st) == cudaSuccess && st != cudaStreamCaptureStatusNone;
}

}  // namespace

void gemmLtInit(Context* c, const char* cublasPath) {
  c->lt = new GemmLt();
  loadLt(*c->lt, cublasPath);
}

void ltFreeShape(GemmLt* lt, LtShape* s) {
  if (s->desc) lt->descDestroy(s->desc);
  if (s->a) lt->layoutDestroy(s->a);
  if (s->b) lt->layoutDestroy(s->b);
  if (s->d) lt->layoutDestroy(s->d);
  delete s;
}

void gemmLtFree(Context* c) {
  GemmLt* lt = c->lt;
  if (lt == nullptr) return;
  for (auto& e : lt->shapes) ltFreeShape(lt, e.second);
  lt->shapes.clear();
  fp8LtFree(lt);
  if (lt->handle) lt->destroy(lt->handle);
  if (lt->lib) dlclose(lt->lib);
  delete lt;
  c->lt = nullptr;
}

LtKey ltKey(void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w, const void* bias, int rows, int in,
            int out) {
  LtKey k;
  k.rows = rows;
  k.in = in;
  k.out = out;
  k.ldx = ldx;
  k.ldy = ldy;
  k.f32Out = f32Out;
  k.bias = bias != nullptr;
  k.alignX = alignment(x, 2LL * ldx);
  k.alignW = alignment(w, 2LL * in);
  k.alignY = alignment(y, (f32Out ? 4LL : 2LL) * ldy);
  k.alignBias = bias ? alignment(bias, 0) : 0;
  return k;
}

namespace {

/** Descriptors and the heuristic's candidates of one shape; candidates stay empty when any Lt call fails. */
LtShape* build(GemmLt* lt, const LtKey& k, const void* bias, size_t workspaceBytes) {
  LtShape* s = new LtShape();
  int transA = CUBLAS_OP_T, transB = CUBLAS_OP_N;
  uint32_t epilogue = k.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  uint64_t ws = workspaceBytes;
  uint32_t aA = k.alignW, aB = k.alignX, aC = k.alignY;
  // Column-major view, as gemmBf16's cublasGemmEx: Yᵀ (out × rows) = W (in × out)ᵀ · Xᵀ (in × rows).
  bool okay = lt->descCreate(&s->desc, CUBLAS_COMPUTE_32F, R_32F) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof transA) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof transB) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue) == 0 &&
              (!k.bias || lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) == 0) &&
              lt->layoutCreate(&s->a, R_16BF, k.in, k.out, k.in) == 0 &&
              lt->layoutCreate(&s->b, R_16BF, k.in, k.rows, k.ldx) == 0 &&
              lt->layoutCreate(&s->d, k.f32Out ? R_32F : R_16BF, k.out, k.rows, k.ldy) == 0;
  cublasLtMatmulPreference_t pref = nullptr;
  okay = okay && lt->prefCreate(&pref) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aA, sizeof aA) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &aB, sizeof aB) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &aC, sizeof aC) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &aC, sizeof aC) == 0;
  if (okay) {
    std::vector<cublasLtMatmulHeuristicResult_t> r(LT_CANDIDATES);
    int n = 0;
    if (lt->heuristic(lt->handle, s->desc, s->a, s->b, s->d, s->d, pref, LT_CANDIDATES, r.data(), &n) == 0) {
      for (int i = 0; i < n && i < LT_CANDIDATES; i++) {
        // Split-K that reduces in the output type (in place in D, or partials stored as D's type) sums bf16-rounded
        // partials: not the fp32 accumulation of the gemmBf16 contract. fp32 outputs keep every scheme.
        uint32_t red = 0;
        size_t written = 0;
        bool fp32Sum = k.f32Out || (lt->algoGet(&r[i].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red,
                                                &written) == 0 && (red == 0 || red == 2));
        if (r[i].state == 0 && r[i].workspaceSize <= workspaceBytes && fp32Sum) s->candidates.push_back(r[i]);
      }
    }
  }
  if (pref) lt->prefDestroy(pref);
  return s;
}

}  // namespace

LtShape* ltShape(Context* c, const LtKey& key, const void* bias, bool* transient) {
  GemmLt* lt = c->lt;
  *transient = false;
  auto it = lt->shapes.find(key);
  if (it != lt->shapes.end()) return it->second->failed ? nullptr : it->second;
  LtShape* s = build(lt, key, bias, c->workspaceBytes);
  s->failed = s->candidates.empty();
  if (lt->shapes.size() >= LT_MAX_SHAPES) {  // past the cap: descriptors for this call only, no log line per call
    if (!s->failed) {
      *transient = true;
      return s;
    }
    ltFreeShape(lt, s);
    return nullptr;
  }
  lt->shapes[key] = s;
  if (!s->failed) return s;
  lt->notes += "cuBLASLt has no algorithm for " + shapeText(key) + ": this shape runs cublasGemmEx\n";
  return nullptr;
}

int ltMatmul(Context* c, LtShape* s, int i, void* y, const void* x, const void* w, const void* bias) {
  GemmLt* lt = c->lt;
  float alpha = 1.f, beta = 0.f;
  // the descriptor is per shape, the bias per weight: point it at this call's (same alignment: part of the key)
  if (bias != nullptr) {
    int st = lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    if (st != 0) return st;
  }
  return lt->matmul(lt->handle, s->desc, &alpha, w, s->a, x, s->b, &beta, y, s->d, y, s->d,
                    &s->candidates[i].algo, c->workspace, c->workspaceBytes, c->stream);
}

int gemmExRun(Context* c, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w, const void* bias,
              int rows, int in, int out) {
  float alpha = 1.f, beta = 0.f;
  // Column-major view: Yᵀ (out × rows) = W (in × out)ᵀ · Xᵀ (in × rows).
  int st = c->cublas.gemmEx(c->handle, CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &alpha, w, R_16BF, in, x, R_16BF,
                            ldx, &beta, y, f32Out ? R_32F : R_16BF, ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st == 0 && bias != nullptr) launchAddBias(c->stream, (bf16*)y, ldy, (const bf16*)bias, rows, out);
  return st;
}

int gemmLtRun(Context* c, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w, const void* bias,
              int rows, int in, int out) {
  GemmLt* lt = c->lt;
  if (lt == nullptr || lt->mode == GEMM_CUBLAS || lt->lib == nullptr) return 0;
  LtKey key = ltKey(y, ldy, f32Out, x, ldx, w, bias, rows, in, out);
  bool transient = false;
  LtShape* s = ltShape(c, key, bias, &transient);
  if (s == nullptr) return 0;
  int pick = 0;
  if (lt->mode == GEMM_LT_TUNED) {
    if (s->tuned == -2 && !transient && !capturing(c->stream)) {
      if (lt->tunedShapes < LT_MAX_TUNED) {
        ltTune(c, s, y, ldy, f32Out, x, ldx, w, bias, rows, in, out);
        lt->tunedShapes++;
      } else if (!lt->capNoted) {
        lt->capNoted = true;
        lt->notes += "cuda.gemm=lt-tuned: " + std::to_string(LT_MAX_TUNED) +
                     " shapes tuned; later new shapes take the cuBLASLt heuristic's first algorithm\n";
      }
    }
    // not tuned yet (first seen inside a graph capture, or past the cap): the heuristic's first
    pick = s->tuned >= -1 ? s->tuned : 0;
  }
  int st = pick == -1 ? 1 : ltMatmul(c, s, pick, y, x, w, bias);
  if (pick != -1 && st != 0) {
    s->failed = true;
    lt->notes += "cublasLtMatmul returned status " + std::to_string(st) + " for " + shapeText(key) +
                 ": this shape runs cublasGemmEx from now on\n";
  }
  if (transient) ltFreeShape(lt, s);
  return pick == -1 || st != 0 ? 0 : 1;  // 0: the caller runs cublasGemmEx (the tuned winner, or the fallback)
}

void ltTune(Context* c, LtShape* s, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w,
            const void* bias, int rows, int in, int out) {
  const int reps = 3;
  // written over before every timed run, so that each one reads W from HBM as a step does (H100/H200 L2: 50 MB)
  const size_t flushBytes = 128u << 20;
  void* flush = nullptr;
  if (cudaMalloc(&flush, flushBytes) != cudaSuccess) {
    flush = nullptr;
    cudaGetLastError();
  }
  cudaEvent_t ev[2 * reps];
  for (cudaEvent_t& e : ev) cudaEventCreate(&e);
  int n = (int)s->candidates.size();
  float best = INFINITY;
  int bestI = -1;
  for (int i = -1; i < n; i++) {  // -1: cublasGemmEx (+ addBias), so lt-tuned is never slower than cublas
    auto run = [&]() {
      return i < 0 ? gemmExRun(c, y, ldy, f32Out, x, ldx, w, bias, rows, in, out) : ltMatmul(c, s, i, y, x, w, bias);
    };
    if (run() != 0) continue;  // the warm-up (lazy module loading); a candidate that fails is not chosen
    bool fine = true;
    for (int r = 0; r < reps; r++) {
      if (flush) cudaMemsetAsync(flush, r & 1, flushBytes, c->stream);
      cudaEventRecord(ev[2 * r], c->stream);
      fine = run() == 0 && fine;
      cudaEventRecord(ev[2 * r + 1], c->stream);
    }
    if (cudaEventSynchronize(ev[2 * reps - 1]) != cudaSuccess || !fine) {
      cudaGetLastError();
      continue;
    }
    float t = INFINITY;
    for (int r = 0; r < reps; r++) {
      float ms = 0;
      cudaEventElapsedTime(&ms, ev[2 * r], ev[2 * r + 1]);
      t = fminf(t, ms * 1000.f);
    }
    if (t < best) {
      best = t;
      bestI = i;
    }
  }
  for (cudaEvent_t& e : ev) cudaEventDestroy(e);
  if (flush) cudaFree(flush);
  s->tuned = bestI;  // -1 also when nothing ran: cublasGemmEx then reports its own error
  s->tunedMicros = best;
}

std::string ltDescribe(Context* c, LtShape* s, int i) {
  if (i < 0) return "cublasGemmEx";
  GemmLt* lt = c->lt;
  int id = -1, split = -1;
  uint32_t tile = 0, red = 0;
  size_t n = 0;
  const cublasLtMatmulAlgo_t* a = &s->candidates[i].algo;
  lt->algoGet(a, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &n);
  lt->algoGet(a, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &n);
  lt->algoGet(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split, sizeof split, &n);
  lt->algoGet(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red, &n);
  char buf[120];
  snprintf(buf, sizeof buf, "algo %d tile %u splitK %d reduction %u", id, tile, split, red);
  return buf;
}

/** cuda.gemm of this context: 0 cublas, 1 lt, 2 lt-tuned (CudaSettings.Gemm's ordinal). */
JNI(void, setGemm)(JNIEnv*, jclass, jlong h, jint mode) {
  GemmLt* lt = ctx(h)->lt;
  if (lt->mode != mode && mode != GEMM_CUBLAS && lt->lib == nullptr) {
    lt->notes += std::string("cuda.gemm asks for cuBLASLt, which did not load; every GEMM runs cublasGemmEx. "
                             "Tried:") + lt->tried + "\n";
  }
  lt->mode = mode;
}

/** The GEMM path's log lines since the last call (one per line), or null. */
JNI(jstring, gemmNotes)(JNIEnv* env, jclass, jlong h) {
  GemmLt* lt = ctx(h)->lt;
  if (lt->notes.empty()) return nullptr;
  jstring s = env->NewStringUTF(lt->notes.c_str());
  lt->notes.clear();
  return s;
}

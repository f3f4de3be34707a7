// cuBLASLt, declared by hand because the build machine has no cuBLAS headers (as bridge.cuh declares cuBLAS), and
// the per-context state of the Lt GEMM path (gemm_lt.cu): the loaded library, the handle, the per-shape cache.
//
// Every enum value and struct layout below is from NVIDIA's public cublasLt.h of CUDA 13.0 (the header that has
// cublasLtEmulationDesc_t and the grouped matrix layouts); each value used here is the same in the CUDA 11.x header
// (llama.cpp's include/cuda/cublasLt.h copy, "Copyright 1993-2021"), so one declaration serves libcublasLt.so.12 and
// .so.13. Data and compute types (CUDA_R_16BF = 14, CUDA_R_32F = 0, CUBLAS_COMPUTE_32F = 68) are bridge.cuh's.
#pragma once
#include <map>
#include <string>
#include <vector>
#include <stdint.h>

typedef struct cublasLtContext* cublasLtHandle_t;
typedef void* cublasLtMatmulDesc_t;        // cublasLtMatmulDescOpaque_t* (only ever passed back to the library)
typedef void* cublasLtMatrixLayout_t;      // cublasLtMatrixLayoutOpaque_t*
typedef void* cublasLtMatmulPreference_t;  // cublasLtMatmulPreferenceOpaque_t*

/** cublasLtMatmulAlgo_t: "typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;" (semi-opaque, copyable). */
struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};

/**
 * cublasLtMatmulHeuristicResult_t: { cublasLtMatmulAlgo_t algo; size_t workspaceSize; cublasStatus_t state; float
 * wavesCount; int reserved[4]; } — 96 bytes; the library writes a packed array of them, so the size must match.
 */
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  int state;  // cublasStatus_t; the other fields are valid only when 0 (CUBLAS_STATUS_SUCCESS)
  float wavesCount;
  int reserved[4];
};
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");

// cublasLtMatmulDescAttributes_t
const int CUBLASLT_MATMUL_DESC_TRANSA = 3;        // int32_t (cublasOperation_t)
const int CUBLASLT_MATMUL_DESC_TRANSB = 4;        // int32_t
const int CUBLASLT_MATMUL_DESC_EPILOGUE = 7;      // uint32_t (cublasLtEpilogue_t)
const int CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8;  // const void*; bias elements of D's type by default (bf16 here)
// cublasLtEpilogue_t
const uint32_t CUBLASLT_EPILOGUE_DEFAULT = 1;
const uint32_t CUBLASLT_EPILOGUE_BIAS = 4;  // bias (length = D's rows) broadcast over D's columns, added in fp32
                                            // ("before applying final postprocessing"), then the one rounding to D
// cublasLtMatmulPreferenceAttributes_t
const int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;    // uint64_t
const int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5;  // uint32_t, default 256
const int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6;
const int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7;
const int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8;
// cublasLtMatmulAlgoConfigAttributes_t (read back to describe an algorithm)
const int CUBLASLT_ALGO_CONFIG_ID = 0;                // int32_t
const int CUBLASLT_ALGO_CONFIG_TILE_ID = 1;           // uint32_t (cublasLtMatmulTile_t)
const int CUBLASLT_ALGO_CONFIG_SPLITK_NUM = 2;        // int32_t
const int CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME = 3;  // uint32_t (cublasLtReductionScheme_t: 0 none, 1 in place,
                                                      // 2 compute type, 4 output type)

typedef int (*LtCreateFn)(cublasLtHandle_t*);
typedef int (*LtDestroyFn)(cublasLtHandle_t);
typedef size_t (*LtGetVersionFn)();
typedef int (*LtDescCreateFn)(cublasLtMatmulDesc_t*, int computeType, int scaleType);
typedef int (*LtDescDestroyFn)(cublasLtMatmulDesc_t);
typedef int (*LtDescSetFn)(cublasLtMatmulDesc_t, int attr, const void* buf, size_t size);
typedef int (*LtLayoutCreateFn)(cublasLtMatrixLayout_t*, int type, uint64_t rows, uint64_t cols, int64_t ld);
typedef int (*LtLayoutDestroyFn)(cublasLtMatrixLayout_t);
typedef int (*LtPrefCreateFn)(cublasLtMatmulPreference_t*);
typedef int (*LtPrefDestroyFn)(cublasLtMatmulPreference_t);
typedef int (*LtPrefSetFn)(cublasLtMatmulPreference_t, int attr, const void* buf, size_t size);
typedef int (*LtHeuristicFn)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t A,
                             cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                             cublasLtMatmulPreference_t, int requested, cublasLtMatmulHeuristicResult_t* results,
                             int* returned);
typedef int (*LtMatmulFn)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void* alpha, const void* A,
                          cublasLtMatrixLayout_t, const void* B, cublasLtMatrixLayout_t, const void* beta,
                          const void* C, cublasLtMatrixLayout_t, void* D, cublasLtMatrixLayout_t,
                          const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspaceBytes, cudaStream_t);
typedef int (*LtAlgoConfigGetFn)(const cublasLtMatmulAlgo_t*, int attr, void* buf, size_t size, size_t* written);

/** cuda.gemm: what gemmBf16 runs (the ordinal of CudaSettings.Gemm). */
enum GemmMode { GEMM_CUBLAS = 0, GEMM_LT = 1, GEMM_LT_TUNED = 2 };

/** Heuristic candidates asked for per shape; lt-tuned times each (and cublasGemmEx). */
const int LT_CANDIDATES = 24;
/** Shapes cached per context; beyond, a new shape's descriptors live for its one call (MoE's per-expert rows). */
const size_t LT_MAX_SHAPES = 4096;
/** Shapes tuned per context; beyond, a new shape takes the heuristic's first algorithm (one log line). */
const int LT_MAX_TUNED = 512;

/** A linear's shape as the cache sees it: sizes, leading dimensions, output type, bias, and the pointers' alignment. */
struct LtKey {
  int rows, in, out, ldx, ldy, f32Out, bias, alignX, alignW, alignY, alignBias;
  bool operator<(const LtKey& o) const {
    const int* a = &rows;
    const int* b = &o.rows;
    for (int i = 0; i < 11; i++) {
      if (a[i] != b[i]) return a[i] < b[i];
    }
    return false;
  }
};

/** One shape: its descriptors, the heuristic's candidates and the tuned choice. */
struct LtShape {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;  // W (in × out, op T), X (in × rows), Y (out × rows)
  std::vector<cublasLtMatmulHeuristicResult_t> candidates;       // heuristic order; empty: Lt unusable (gemmEx)
  int tuned = -2;          // -2 not tuned; -1 cublasGemmEx won; else the candidate's index
  float tunedMicros = -1;  // the winner's time when tuned
  bool failed = false;     // an Lt call failed: this shape runs cublasGemmEx from then on
};

/** An FP8 × FP8 linear's shape (gemm_fp8_lt.cu): sizes, the output's leading dimension and alignment. */
struct Fp8LtKey {
  int rows, in, out, ldy, alignY;
  bool operator<(const Fp8LtKey& o) const {
    const int* a = &rows;
    const int* b = &o.rows;
    for (int i = 0; i < 5; i++) {
      if (a[i] != b[i]) return a[i] < b[i];
    }
    return false;
  }
};

/**
 * One FP8 shape: descriptors (the scale pointers set per call), the heuristic's usable candidates and the one in use
 * (the first; under cuda.gemm=lt-tuned the fastest, timed at the shape's first call outside a graph capture).
 */
struct Fp8LtShape {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;  // W (in × out e4m3, op T), X (in × rows e4m3), Y
  std::vector<cublasLtMatmulAlgo_t> candidates;                  // empty: no algorithm
  int pick = 0;
  bool tuned = false;
  bool failed = false;  // a call failed: the weight-only path from then on
};

/** The Lt path of one context (Context::lt). */
struct GemmLt {
  void* lib = nullptr;  // null: libcublasLt not loaded (why: `tried`)
  std::string tried;
  cublasLtHandle_t handle = nullptr;
  LtCreateFn create;
  LtDestroyFn destroy;
  LtGetVersionFn version;
  LtDescCreateFn descCreate;
  LtDescDestroyFn descDestroy;
  LtDescSetFn descSet;
  LtLayoutCreateFn layoutCreate;
  LtLayoutDestroyFn layoutDestroy;
  LtPrefCreateFn prefCreate;
  LtPrefDestroyFn prefDestroy;
  LtPrefSetFn prefSet;
  LtHeuristicFn heuristic;
  LtMatmulFn matmul;
  LtAlgoConfigGetFn algoGet;
  int mode = GEMM_CUBLAS;
  int tunedShapes = 0;
  bool capNoted = false;
  std::map<LtKey, LtShape*> shapes;
  std::map<Fp8LtKey, Fp8LtShape*> fp8Shapes;  // gemm_fp8_lt.cu
  std::string notes;  // log lines not yet handed to Java (CudaNative.gemmNotes)
};

struct Context;
/** Loads libcublasLt next to cublasPath (when it names a directory) or by soname; never throws (gemm_lt.cu). */
void gemmLtInit(Context* c, const char* cublasPath);
/** Frees every cached shape, the handle and the library (the context's destroy). */
void gemmLtFree(Context* c);
/**
 * y = x·Wᵀ (+ bias) through cuBLASLt under the context's cuda.gemm: 1 done, 0 not taken (cuda.gemm=cublas, no
 * library, or this shape falls back: the caller runs cublasGemmEx).
 */
int gemmLtRun(Context* c, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w, const void* bias,
              int rows, int in, int out);
/** The cached shape of these operands, created (heuristic asked) on first use; null when Lt is unusable for it. */
LtShape* ltShape(Context* c, const LtKey& key, const void* bias, bool* transient);
LtKey ltKey(void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w, const void* bias, int rows, int in,
            int out);
/** One Lt GEMM with candidate i of the shape; the cuBLASLt status. */
int ltMatmul(Context* c, LtShape* s, int i, void* y, const void* x, const void* w, const void* bias);
/** Times cublasGemmEx and each candidate on these operands (L2 flushed between runs); sets s->tuned. */
void ltTune(Context* c, LtShape* s, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w,
            const void* bias, int rows, int in, int out);
/** cublasGemmEx (+ the addBias kernel) as gemmBf16 runs it; the cuBLAS status. */
int gemmExRun(Context* c, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w, const void* bias,
              int rows, int in, int out);
/** "algo 21 tile 20 splitK 1 reduction 0" for candidate i, or "cublasGemmEx" for -1. */
std::string ltDescribe(Context* c, LtShape* s, int i);
void ltFreeShape(GemmLt* lt, LtShape* s);

// ---- FP8 × FP8 (gemm_fp8_lt.cu) ----
/** Bytes of scratch the activations of rows × in take quantized: e4m3 codes (256-byte padded), then fp32 scales. */
size_t fp8ActScratchBytes(int rows, int in);
/**
 * Whether the FP8 × FP8 path can take this linear: 128×128 weight blocks, in % 128 == 0, out % 16 == 0, the scale
 * pitch cuBLASLt's BLK128x128 layout wants (sld = in / 128 rounded up to a multiple of 4), x rows 8-byte aligned,
 * and scratch for the quantized activations.
 */
bool fp8LtApplies(const Fp8Mat& w, int rows, int in, int out, int ldx, const void* x, size_t scratchBytes);
/**
 * y (rows, out) bf16 = quantize(x) · Wᵀ (+ bias, added after in bf16 as gemmExRun adds it) through cuBLASLt's
 * block-scaled FP8 matmul, the activations quantized into scratch (256-byte aligned): 1 done, 0 not taken (the
 * caller takes the weight-only path).
 */
int fp8LtRun(Context* c, bf16* y, int ldy, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows, int in,
             int out, void* scratch, size_t scratchBytes);
/** The activation quantization alone (xs: the block's scales contiguous over rows, at xs[block · rows + row]). */
void launchQuantizeAct(cudaStream_t s, uint8_t* xq, float* xs, const bf16* x, int ldx, int rows, int in);
void fp8LtFree(GemmLt* lt);

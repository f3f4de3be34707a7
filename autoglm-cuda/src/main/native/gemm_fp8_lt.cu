// FP8 × FP8 GEMMs through cuBLASLt for the FP8 linears of cuBLAS-sized steps (cuda.fp8ActMinRows): the activations
// quantized on the fly per row and 128-column block (e4m3 with an fp32 scale, the rule quantizeFp8K applies to
// weights: scale = amax / 448, 1 when amax is 0), the weights' 128×128 block scales as loaded, and cuBLASLt's
// block-scaled FP8 matmul (cuBLAS 12.9 and later on sm_90: A_SCALE_MODE BLK128x128_32F for W, B_SCALE_MODE
// VEC128_32F for X; bf16 output, fp32 accumulation with the per-block scales applied in fp32). Half the weight bytes
// and twice the tensor-core rate of bf16 — the published FP8 checkpoints' own recipe ("DeepSeek-style" 1×128
// activation and 128×128 weight blocks, as vLLM's block-FP8 linear). Any shape the path cannot take (block shape,
// scale pitch, alignment, scratch, no algorithm, a failed call) returns 0 and the caller takes the weight-only path;
// a shape that failed once stays off, with one log line (CudaNative.gemmNotes).
#include "bridge.cuh"
#include "fp8.cuh"

namespace {

const int R_8F_E4M3 = 28;                         // cudaDataType CUDA_R_8F_E4M3
const int CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17;  // const void* (device): W's block scales
const int CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18;  // const void* (device): X's 1×128 scales
const int CUBLASLT_MATMUL_DESC_A_SCALE_MODE = 31;     // int32_t (cublasLtMatmulMatrixScale_t)
const int CUBLASLT_MATMUL_DESC_B_SCALE_MODE = 32;
const int CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F = 4;    // one fp32 scale per 128 elements along k
const int CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F = 5;  // one fp32 scale per 128 × 128 block

/**
 * One warp per (row, 128-column block) of x: 4 elements per lane, amax over the block, scale = amax / 448 (1 when
 * amax is 0), q = e4m3(x / scale) saturated to ±448; the scale at xs[block · rows + row] (a block's scales
 * contiguous over the rows: cuBLASLt's VEC128_32F layout). in % 128 == 0, x rows 8-byte aligned.
 */
__global__ void quantActK(uint8_t* xq, float* xs, const bf16* x, int ldx, int rows, int in) {
  pdlTrigger();
  pdlWait();
  int blocks = in >> 7;
  long long g = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (g >= (long long)rows * blocks) return;
  int r = (int)(g / blocks), b = (int)(g - (long long)r * blocks);
  int lane = threadIdx.x & 31;
  uint2 v = *(const uint2*)(x + (size_t)r * ldx + b * 128 + lane * 4);
  __nv_bfloat162 h0 = *(__nv_bfloat162*)&v.x, h1 = *(__nv_bfloat162*)&v.y;
  float f[4] = {__low2float(h0), __high2float(h0), __low2float(h1), __high2float(h1)};
  float m = fmaxf(fmaxf(fabsf(f[0]), fabsf(f[1])), fmaxf(fabsf(f[2]), fabsf(f[3])));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  float scale = m == 0.f ? 1.f : __fdiv_rn(m, 448.f);
  unsigned packed = 0;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    packed |= (unsigned)__nv_cvt_float_to_fp8(__fdiv_rn(f[i], scale), __NV_SATFINITE, __NV_E4M3) << (8 * i);
  }
  *(unsigned*)(xq + (size_t)r * in + b * 128 + lane * 4) = packed;
  if (lane == 0) xs[(size_t)b * rows + r] = scale;
}

std::string fp8ShapeText(const Fp8LtKey& k) {
  char buf[160];
  snprintf(buf, sizeof buf, "FP8 y (%d × %d, ld %d) = x (%d × %d, 1×128 e4m3 blocks) · Wᵀ (128×128 e4m3 blocks)",
           k.rows, k.out, k.ldy, k.rows, k.in);
  return buf;
}

/** The largest power of two up to 256 that divides the address and the leading dimension in bytes. */
int align256(const void* p, long long ldBytes) {
  uintptr_t v = (uintptr_t)p | (uintptr_t)ldBytes;
  int a = 256;
  while (a > 1 && (v % a) != 0) a >>= 1;
  return a;
}

/** Descriptors and the heuristic's first usable algorithm of one shape; ok stays false when any Lt call fails. */
Fp8LtShape* buildFp8(GemmLt* lt, const Fp8LtKey& k, const void* wScales, const void* xScales, size_t workspaceBytes) {
  Fp8LtShape* s = new Fp8LtShape();
  int transA = CUBLAS_OP_T, transB = CUBLAS_OP_N;
  int modeA = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F, modeB = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
  uint64_t ws = workspaceBytes;
  uint32_t aY = k.alignY;
  // Column-major view, as the bf16 path: Yᵀ (out × rows) = W (in × out)ᵀ · Xᵀ (in × rows); A = W, B = X.
  bool okay = lt->descCreate(&s->desc, CUBLAS_COMPUTE_32F, R_32F) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof transA) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof transB) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &modeA, sizeof modeA) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &modeB, sizeof modeB) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &wScales, sizeof wScales) == 0 &&
              lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &xScales, sizeof xScales) == 0 &&
              lt->layoutCreate(&s->a, R_8F_E4M3, k.in, k.out, k.in) == 0 &&
              lt->layoutCreate(&s->b, R_8F_E4M3, k.in, k.rows, k.in) == 0 &&
              lt->layoutCreate(&s->d, R_16BF, k.out, k.rows, k.ldy) == 0;
  cublasLtMatmulPreference_t pref = nullptr;
  okay = okay && lt->prefCreate(&pref) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &aY, sizeof aY) == 0 &&
         lt->prefSet(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &aY, sizeof aY) == 0;
  if (okay) {
    std::vector<cublasLtMatmulHeuristicResult_t> r(LT_CANDIDATES);
    int n = 0;
    if (lt->heuristic(lt->handle, s->desc, s->a, s->b, s->d, s->d, pref, LT_CANDIDATES, r.data(), &n) == 0) {
      for (int i = 0; i < n && i < LT_CANDIDATES; i++) {
        // as the bf16 path: no split-K that sums bf16-rounded partials (reduction in place or in the output type)
        uint32_t red = 0;
        size_t written = 0;
        bool fp32Sum = lt->algoGet(&r[i].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red, &written) == 0 &&
                       (red == 0 || red == 2);
        if (r[i].state == 0 && r[i].workspaceSize <= workspaceBytes && fp32Sum) s->candidates.push_back(r[i].algo);
      }
    }
  }
  if (pref) lt->prefDestroy(pref);
  return s;
}

}  // namespace

void fp8LtFreeShape(GemmLt* lt, Fp8LtShape* s) {
  if (s->desc) lt->descDestroy(s->desc);
  if (s->a) lt->layoutDestroy(s->a);
  if (s->b) lt->layoutDestroy(s->b);
  if (s->d) lt->layoutDestroy(s->d);
  delete s;
}

size_t fp8ActScratchBytes(int rows, int in) {
  size_t q = ((size_t)rows * in + 255) / 256 * 256;
  return q + (size_t)rows * (in / 128) * sizeof(float);
}

void launchQuantizeAct(cudaStream_t s, uint8_t* xq, float* xs, const bf16* x, int ldx, int rows, int in) {
  long long warps = (long long)rows * (in / 128);
  launchK(true, quantActK, (unsigned)((warps + 7) / 8), 256, s, xq, xs, x, ldx, rows, in);
}

bool fp8LtApplies(const Fp8Mat& w, int rows, int in, int out, int ldx, const void* x, size_t scratchBytes) {
  return rows > 0 && w.rowShift == 7 && w.colShift == 7 && in % 128 == 0 && out % 16 == 0 &&
         w.sld == (in / 128 + 3) / 4 * 4 && ldx % 4 == 0 && ((uintptr_t)x & 7) == 0 &&
         ((uintptr_t)w.q & 15) == 0 && ((uintptr_t)w.s & 15) == 0 && fp8ActScratchBytes(rows, in) <= scratchBytes;
}

namespace {

bool capturingFp8(cudaStream_t s) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  return cudaStreamIsCapturing(s, &st) == cudaSuccess && st != cudaStreamCaptureStatusNone;
}

/** One FP8 matmul with candidate i of the shape, the operands' scale pointers set first; the cuBLASLt status. */
int fp8Matmul(Context* c, Fp8LtShape* s, int i, bf16* y, const uint8_t* xq, const float* xs, const Fp8Mat& w) {
  GemmLt* lt = c->lt;
  float alpha = 1.f, beta = 0.f;
  const void* ws = w.s;
  const void* as = xs;
  int st = lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &ws, sizeof ws);
  if (st == 0) st = lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &as, sizeof as);
  if (st != 0) return st;
  return lt->matmul(lt->handle, s->desc, &alpha, w.q, s->a, xq, s->b, &beta, y, s->d, y, s->d, &s->candidates[i],
                    c->workspace, c->workspaceBytes, c->stream);
}

/** lt-tuned: times every candidate on these operands (3 runs each, L2 written over between runs); keeps the fastest. */
void fp8Tune(Context* c, Fp8LtShape* s, bf16* y, const uint8_t* xq, const float* xs, const Fp8Mat& w) {
  const int reps = 3;
  const size_t flushBytes = 128u << 20;
  void* flush = nullptr;
  if (cudaMalloc(&flush, flushBytes) != cudaSuccess) {
    flush = nullptr;
    cudaGetLastError();
  }
  cudaEvent_t ev[2 * reps];
  for (cudaEvent_t& e : ev) cudaEventCreate(&e);
  float best = INFINITY;
  for (int i = 0; i < (int)s->candidates.size(); i++) {
    if (fp8Matmul(c, s, i, y, xq, xs, w) != 0) continue;  // warm-up; a failing candidate is never chosen
    bool fine = true;
    for (int r = 0; r < reps; r++) {
      if (flush) cudaMemsetAsync(flush, r & 1, flushBytes, c->stream);
      cudaEventRecord(ev[2 * r], c->stream);
      fine = fp8Matmul(c, s, i, y, xq, xs, w) == 0 && fine;
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
      s->pick = i;
    }
  }
  for (cudaEvent_t& e : ev) cudaEventDestroy(e);
  if (flush) cudaFree(flush);
  s->tuned = true;
}

}  // namespace

int fp8LtRun(Context* c, bf16* y, int ldy, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows, int in,
             int out, void* scratch, size_t scratchBytes) {
  GemmLt* lt = c->lt;
  // cuBLASLt's 1×128 activation scales want each block's row of scales 16-byte aligned: the rows in multiples of 4;
  // the last rows % 4 take the tensor-core FP8 GEMM (which needs 16-byte rows)
  int main = rows & ~3, rest = rows - main;
  if (lt == nullptr || lt->lib == nullptr || scratch == nullptr || ((uintptr_t)scratch & 255) != 0 || main == 0 ||
      !fp8LtApplies(w, main, in, out, ldx, x, scratchBytes) ||
      (rest != 0 && ((ldx & 7) != 0 || ((uintptr_t)x & 15) != 0))) {
    return 0;
  }
  uint8_t* xq = (uint8_t*)scratch;
  float* xs = (float*)((char*)scratch + ((size_t)main * in + 255) / 256 * 256);
  Fp8LtKey key{main, in, out, ldy, align256(y, 2LL * ldy)};
  auto it = lt->fp8Shapes.find(key);
  Fp8LtShape* s;
  bool cached = true;
  if (it != lt->fp8Shapes.end()) {
    s = it->second;
  } else {
    s = buildFp8(lt, key, w.s, xs, c->workspaceBytes);
    if (s->candidates.empty()) {
      s->failed = true;
      lt->notes += "cuBLASLt has no block-scaled FP8 algorithm for " + fp8ShapeText(key) +
                   ": this shape takes the weight-only FP8 path\n";
    }
    if (lt->fp8Shapes.size() < LT_MAX_SHAPES) {
      lt->fp8Shapes[key] = s;
    } else {
      cached = false;  // past the cap: this call's descriptors only
    }
  }
  int done = 0;
  if (!s->failed) {
    launchQuantizeAct(c->stream, xq, xs, x, ldx, main, in);
    if (lt->mode == GEMM_LT_TUNED && !s->tuned && cached && !capturingFp8(c->stream) &&
        lt->tunedShapes < LT_MAX_TUNED) {
      fp8Tune(c, s, y, xq, xs, w);
      lt->tunedShapes++;
    }
    int st = fp8Matmul(c, s, s->pick, y, xq, xs, w);
    if (st != 0) {
      s->failed = true;
      lt->notes += "cublasLtMatmul returned status " + std::to_string(st) + " for " + fp8ShapeText(key) +
                   ": this shape takes the weight-only FP8 path from now on\n";
    } else {
      if (bias != nullptr) launchAddBias(c->stream, y, ldy, bias, main, out);
      if (rest != 0) {
        launchGemmFp8(c->stream, y + (size_t)main * ldy, ldy, x + (size_t)main * ldx, ldx, w, bias, rest, in, out);
      }
      done = 1;
    }
  }
  if (!cached) fp8LtFreeShape(lt, s);
  return done;
}

void fp8LtFree(GemmLt* lt) {
  for (auto& e : lt->fp8Shapes) fp8LtFreeShape(lt, e.second);
  lt->fp8Shapes.clear();
}

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
    cublasLtMatmulHeuristicResult_t r[8];
    int n = 0;
    if (lt->heuristic(lt->handle, s->desc, s->a, s->b, s->d, s->d, pref, 8, r, &n) == 0) {
      for (int i = 0; i < n && i < 8 && !s->ok; i++) {
        if (r[i].state == 0 && r[i].workspaceSize <= workspaceBytes) {
          s->algo = r[i].algo;
          s->ok = true;
        }
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

int fp8LtRun(Context* c, bf16* y, int ldy, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows, int in,
             int out, void* scratch, size_t scratchBytes) {
  GemmLt* lt = c->lt;
  if (lt == nullptr || lt->lib == nullptr || scratch == nullptr || ((uintptr_t)scratch & 255) != 0 ||
      !fp8LtApplies(w, rows, in, out, ldx, x, scratchBytes)) {
    return 0;
  }
  uint8_t* xq = (uint8_t*)scratch;
  float* xs = (float*)((char*)scratch + ((size_t)rows * in + 255) / 256 * 256);
  Fp8LtKey key{rows, in, out, ldy, align256(y, 2LL * ldy)};
  auto it = lt->fp8Shapes.find(key);
  Fp8LtShape* s;
  if (it != lt->fp8Shapes.end()) {
    s = it->second;
  } else {
    s = buildFp8(lt, key, w.s, xs, c->workspaceBytes);
    if (!s->ok) {
      lt->notes += "cuBLASLt has no block-scaled FP8 algorithm for " + fp8ShapeText(key) +
                   ": this shape takes the weight-only FP8 path\n";
    }
    if (lt->fp8Shapes.size() >= LT_MAX_SHAPES) {  // past the cap: not cached (MoE's per-expert rows never come here)
      s->failed = !s->ok;
    } else {
      lt->fp8Shapes[key] = s;
    }
  }
  bool cached = lt->fp8Shapes.count(key) != 0;
  int done = 0;
  if (s->ok && !s->failed) {
    launchQuantizeAct(c->stream, xq, xs, x, ldx, rows, in);
    float alpha = 1.f, beta = 0.f;
    const void* ws = w.s;
    const void* as = xs;
    int st = lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &ws, sizeof ws);
    if (st == 0) st = lt->descSet(s->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &as, sizeof as);
    if (st == 0) {
      st = lt->matmul(lt->handle, s->desc, &alpha, w.q, s->a, xq, s->b, &beta, y, s->d, y, s->d, &s->algo,
                      c->workspace, c->workspaceBytes, c->stream);
    }
    if (st != 0) {
      s->failed = true;
      lt->notes += "cublasLtMatmul returned status " + std::to_string(st) + " for " + fp8ShapeText(key) +
                   ": this shape takes the weight-only FP8 path from now on\n";
    } else {
      if (bias != nullptr) launchAddBias(c->stream, y, ldy, bias, rows, out);
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

// Kernel launchers of the AutoGLM CUDA backend; all math in fp32, storage in bf16. One file per kernel family:
// norms.cu, attention.cu (+ attention_plan.cu), gemv.cu, gemv_fused.cu, moe.cu, sampling.cu; their process-wide
// settings live in one KernelConfig (common.cuh, kernel_config.cu). Activations are row-major bf16 matrices with a leading dimension
// (elements between rows); weights are row-major bf16 (out, in); the KV cache per layer is (slots, kvHeads, headDim).
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;
/** An element of an FP8 KV cache (autoglm.kvCacheDtype=fp8): an E4M3 code, scale 1 (kv_cache.cuh). */
typedef __nv_fp8_e4m3 kv8;

// ---- Fusion limits: defined here only; CudaNative.fusionLimits() hands them to Java's FusionPolicy ----
/** Most rows of the small-batch GEMVs, plain or with a fused epilogue (SiLU·mul; QKV + RoPE + KV write). */
constexpr int FUSE_GEMV_MAX_ROWS = 8;
/** Most rows of the GEMVs with residual add + RMSNorm in their prologue (the normed rows sit in shared memory). */
constexpr int FUSE_NORM_MAX_ROWS = 4;
/** Shared memory for those normed rows: rows · in · 2 bytes at most. */
constexpr int FUSE_NORM_MAX_SMEM_BYTES = 32 << 10;
/** Widest input of the fused-norm GEMVs (their prologue holds at most 8 elements per thread of 1,024). */
constexpr int FUSE_NORM_MAX_IN = 8192;

/** Per-row sampling parameters, 32 bytes, written by Java (little-endian) in this exact layout. */
struct SampleParams {
  float temperature;  // 0 = argmax
  int topK;           // 0 = off
  float topP;         // >= 1 = off
  int pad0;
  long long seed;
  int step;
  int pad1;
};

void launchEmbedding(cudaStream_t s, bf16* out, const bf16* table, const int* ids, int rows, int hidden,
                     int firstRow, int tableRows);
void launchRmsNorm(cudaStream_t s, bf16* out, const bf16* x, int ldx, const bf16* w, int rows, int n, float eps);
void launchAddRmsNorm(cudaStream_t s, bf16* sum, bf16* out, const bf16* a, int lda, const bf16* b, int ldb,
                      const bf16* w, int rows, int n, float eps);
void launchAdd(cudaStream_t s, bf16* out, const bf16* a, int lda, const bf16* b, int ldb, int rows, int n);
void launchAddBias(cudaStream_t s, bf16* y, int ldy, const bf16* bias, int rows, int n);
void launchSiluMul(cudaStream_t s, bf16* out, const bf16* gu, int ldgu, int rows, int inter);
void launchRope(cudaStream_t s, bf16* out, const bf16* x, int ldx, const int* pos, const float* inv, int rows,
                int heads, int headDim, int rot, bool interleaved);
void launchRopeWriteKv(cudaStream_t s, const bf16* k, int ldk, const bf16* v, int ldv, bf16* kc, bf16* vc,
                       const int* slots, const int* pos, const float* inv, int rows, int kvHeads, int headDim,
                       int rot, bool interleaved, bool rope);
/** launchRopeWriteKv into an FP8 cache: each value rounded to E4M3 from fp32 (rope(k), v). */
void launchRopeWriteKv(cudaStream_t s, const bf16* k, int ldk, const bf16* v, int ldv, kv8* kc, kv8* vc,
                       const int* slots, const int* pos, const float* inv, int rows, int kvHeads, int headDim,
                       int rot, bool interleaved, bool rope);
/** The attention kernels: none (an impossible shape), attentionK, attention2K, attentionAnyK (any group, headDim). */
enum AttentionKernel { ATTN_NONE = 0, ATTN_FIRST = 1, ATTN_CHUNKED = 2, ATTN_ANY = 3 };

/** The kernel that serves a shape: `group` query heads per block, `dpl` channels per lane, `hg` blocks per KV head. */
struct AttentionPlan {
  int kernel;  // AttentionKernel
  int group;
  int dpl;
  int hg;
};

/**
 * The attention kernel launchAttention runs for `rows` tokens of `heads` query heads over `kvHeads` KV heads of
 * headDim channels, under the current setAttentionVariant / setAttentionSplitHeads. ATTN_NONE when heads is not a
 * multiple of kvHeads or headDim is outside 1..256; every other shape has a kernel.
 */
AttentionPlan planAttention(int rows, int heads, int kvHeads, int headDim);
/**
 * Returns false when planAttention finds no kernel. part: rows·heads·splits·(headDim + 2) floats when splits > 1.
 * counters: rows·heads ints, all 0, that the kernel leaves 0 (the splits merge in the attention kernel), or null (a
 * combine kernel merges them).
 */
bool launchAttention(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq, const bf16* kc,
                     const bf16* vc,
                     const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize, int rows,
                     int heads, int kvHeads, int headDim, float scale, int partition, int splits);
/** launchAttention over an FP8 cache (the same kernels reading E4M3 codes). */
bool launchAttention(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq, const kv8* kc,
                     const kv8* vc, const int* tokSeq, const int* pos, const int* tables, int stride, int blockSize,
                     int rows, int heads, int kvHeads, int headDim, float scale, int partition, int splits);
void launchGather(cudaStream_t s, void* out, const void* x, int ldx, const int* idx, int rows, int cols, int elemBytes);
/** y (rows, out) = x (rows, in) · Wᵀ + bias for rows <= 8; false if not applicable. */
bool launchGemv(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                const bf16* bias, int rows, int in, int out);
void launchSample(cudaStream_t s, int* outTok, const float* logits, int ldl, int vocab, const SampleParams* p,
                  int rows);
void launchToFloat(cudaStream_t s, float* out, const bf16* x, int ldx, int rows, int cols);
/** RMSNorm of each head of each row (GLM4-MoE q/k norms). */
void launchHeadRmsNorm(cudaStream_t s, bf16* out, int ldo, const bf16* x, int ldx, const bf16* w, int rows,
                       int heads, int headDim, float eps);
/** logits (rows, experts) fp32 = x (rows, hidden) bf16 · Wᵀ, W (experts, hidden) fp32. */
void launchRouterLogits(cudaStream_t s, float* logits, const bf16* x, int ldx, const float* w, int rows, int hidden,
                        int experts);
/** y (P, out) = x (P, in) · W_eᵀ per group of rows; false when in is not a multiple of 8 or data misaligned. */
bool launchGroupedGemv(cudaStream_t s, bf16* y, const bf16* x, const bf16* w, const int* expertIds,
                       const int* offsets, int groups, int in, int out);
/** out (rows, hidden) = weighted sums of k rows of d each. */
void launchMoeCombine(cudaStream_t s, bf16* out, int ldo, const bf16* d, const int* rowOf, const float* weight,
                      int rows, int k, int hidden);
/** Small-batch GEMV kernel: 0 = one warp per feature (the first kernel), v >= 1 = the in-split kernel aiming at
 *  1024·v blocks. Process-wide; set before graphs are captured. */
void setGemvVariant(int v);
/**
 * The tensor-core GEMV (gemv_tc.cu) for steps of `rows` rows, 1..8: y = x · Wᵀ (+ bias) with bf16 MMAs, any in % 8 ==
 * 0 and out, bf16 or fp32 out; false if not applicable (alignment as launchGemv).
 */
bool launchGemvTc(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, const bf16* w,
                  const bf16* bias, int rows, int in, int out);
/** launchGemvSilu on the tensor-core GEMV: bit for bit launchGemvTc of the 2·inter features followed by siluMul. */
bool launchGemvTcSilu(cudaStream_t s, bf16* y, const bf16* x, int ldx, const bf16* w, int rows, int in, int inter);
/** Whether launchGemv and launchGemvSilu take the tensor-core GEMV for `rows` rows (cuda.gemvTc <= rows <= 8). */
bool gemvTcTakes(int rows);
/** cuda.gemvTc: the smallest row count that takes the tensor-core GEMV, 0 = never. Process-wide, before capture. */
void setGemvTc(int minRows);
/** FP8 GEMVs of at least minRows rows (<= 8) on the tensor cores (gemv_fp8_mma.cu); 0 = never. */
void setFp8GemvTc(int minRows);
/** Programmatic dependent launch for the kernels of a layer (sm_90 and later); process-wide, set before capture. */
void setPdl(bool on);
/** out (rows, inter) = silu(x·Wgᵀ)·(x·Wuᵀ) for w = [gate | up] (2·inter, in), rows <= 8; false if not applicable. */
bool launchGemvSilu(cudaStream_t s, bf16* y, const bf16* x, int ldx, const bf16* w, int rows, int in, int inter);
/**
 * rope(q) into qOut (rows, heads·headDim, dense), rope(k) and v into their KV-cache slots: one launch. With a bias
 * (heads + 2·kvHeads)·headDim wide, q, k and v are first biased as launchAddBias would (rounded to bf16), bit for bit.
 */
void launchRopeQkv(cudaStream_t s, bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v, int ldv,
                   bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int rows, int heads,
                   int kvHeads, int headDim, int rot, bool interleaved, const bf16* bias = nullptr);
/** launchRopeQkv into an FP8 cache: k and v rounded to E4M3 from fp32 (after RoPE and the bias). */
void launchRopeQkv(cudaStream_t s, bf16* qOut, const bf16* q, int ldq, const bf16* k, int ldk, const bf16* v, int ldv,
                   kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int rows, int heads,
                   int kvHeads, int headDim, int rot, bool interleaved, const bf16* bias = nullptr);
/**
 * Whether addRmsNorm, siluMul and ropeQkv take their 16-byte variants on steps of more than 64 rows (on by default;
 * the same arithmetic in the same order, so bit for bit the same: the self-test runs both and compares them).
 */
void setRowKernelsVectorized(bool on);
/**
 * Which row kernels take their 16-byte variants for `rows` rows of hidden n, intermediate inter and a dense QKV of
 * heads + 2·kvHeads heads of headDim (16-byte aligned data): 1 addRmsNorm, 2 siluMul, 4 ropeQkv.
 */
int rowKernelsVectorized(int rows, int n, int inter, int heads, int kvHeads, int headDim, int rot, bool interleaved);
/**
 * Residual add + RMSNorm fused into the gate_up GEMV with SiLU·mul (rows <= 4): sum = a + b, y = silu·mul of
 * rmsNorm(sum)·normW · Wᵀ, bit for bit as launchAddRmsNorm followed by launchGemvSilu. False when it does not apply.
 */
bool launchAddRmsNormGemvSilu(cudaStream_t s, bf16* sum, bf16* y, const bf16* a, int lda, const bf16* b, int ldb,
                              const bf16* normW, float eps, const bf16* w, int rows, int in, int inter);
/**
 * Residual add + RMSNorm, the QKV GEMV (+ bias), interleaved partial RoPE of q and k and the KV-cache write, in one
 * kernel (rows <= 4): bit for bit as launchAddRmsNorm, launchGemv and launchRopeQkv where the GEMV's in-split is at
 * most 4. qOut (rows, heads·headDim). False when it does not apply.
 */
bool launchAddRmsNormQkvRope(cudaStream_t s, bf16* sum, bf16* qOut, const bf16* a, int lda, const bf16* b, int ldb,
                             const bf16* normW, float eps, const bf16* w, const bf16* bias, int rows, int in,
                             bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int heads,
                             int kvHeads, int headDim, int rot);
/** launchAddRmsNormQkvRope into an FP8 KV cache (k and v rounded to E4M3 from fp32, as launchRopeQkv's). */
bool launchAddRmsNormQkvRope(cudaStream_t s, bf16* sum, bf16* qOut, const bf16* a, int lda, const bf16* b, int ldb,
                             const bf16* normW, float eps, const bf16* w, const bf16* bias, int rows, int in,
                             kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int heads,
                             int kvHeads, int headDim, int rot);
/**
 * The QKV GEMV (+ bias) with interleaved partial RoPE of q and k and the KV-cache write in its epilogue (rows <= 8):
 * bit for bit as launchGemv followed by launchRopeQkv where the GEMV's in-split is at most 4. False when it does not
 * apply.
 */
bool launchGemvQkvRope(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, const bf16* w, const bf16* bias, int rows,
                       int in, bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int heads,
                       int kvHeads, int headDim, int rot);
/** launchGemvQkvRope into an FP8 KV cache. */
bool launchGemvQkvRope(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, const bf16* w, const bf16* bias, int rows,
                       int in, kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int heads,
                       int kvHeads, int headDim, int rot);
/** A one-thread kernel that busy-waits ns nanoseconds (profiling). */
void launchSpin(cudaStream_t s, long long ns);
/**
 * Whether the chunked attention kernel runs one block per query head (not per KV head) when a step has fewer than 32
 * (token, KV head) pairs. Process-wide; set before graphs are captured.
 */
void setAttentionSplitHeads(bool on);
/** Attention kernel: 1 = one warp reduction per position and head (attentionK), 2 = chunked (attention2K). */
void setAttentionVariant(int v);

// ---- FP8 weights (E4M3, block-scaled): gemv_fp8.cu, fp8.cu ----
/**
 * A block-scaled FP8 weight (rows, cols) as the kernels read it: W[r][c] = e4m3(q[r·cols + c]) ·
 * s[(r >> rowShift)·sld + (c >> colShift)]. colShift >= 4 (a 16-weight chunk lies in one scale block); per-channel
 * scales have colShift 30; rowShift 0 means a scale row per weight row (fused parts whose rows are not a multiple of
 * the block).
 */
struct Fp8Mat {
  const uint8_t* q;
  const float* s;
  int sld;
  int rowShift;
  int colShift;
};

/**
 * Quantizes w (rows, cols) bf16 into q (e4m3) and s (ceil(rows/br), ceil(cols/bc)) fp32, per (br, bc) block:
 * scale = amax / 448 (fp32, round to nearest; amax == 0 gives 1), q = __nv_cvt_float_to_fp8(w / scale, SATFINITE,
 * E4M3) with w / scale an fp32 division rounded to nearest.
 */
void launchQuantizeFp8(cudaStream_t s, uint8_t* q, float* scales, const bf16* w, int rows, int cols, int br, int bc);
/** out (rows, cols) bf16 = the dequantized weight, each element rounded once (e4m3 · scale in fp32, to bf16). */
void launchDequantFp8(cudaStream_t s, bf16* out, Fp8Mat w, int rows, int cols);
/** launchGemv for an FP8 weight (rows <= 8); false when it does not apply (in % 16, alignment, colShift < 4). */
bool launchGemvFp8(cudaStream_t s, void* y, int ldy, bool f32Out, const bf16* x, int ldx, Fp8Mat w,
                   const bf16* bias, int rows, int in, int out);
/** launchGemvSilu for an FP8 [gate | up] weight; bit for bit as launchGemvFp8 followed by launchSiluMul. */
bool launchGemvSiluFp8(cudaStream_t s, bf16* y, const bf16* x, int ldx, Fp8Mat w, int rows, int in, int inter);
/** launchGemvQkvRope for an FP8 QKV weight; bit for bit as launchGemvFp8 followed by launchRopeQkv (split <= 4). */
bool launchGemvQkvRopeFp8(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows,
                          int in, bf16* kc, bf16* vc, const int* slots, const int* pos, const float* inv, int heads,
                          int kvHeads, int headDim, int rot);
/** launchGemvQkvRopeFp8 into an FP8 KV cache. */
bool launchGemvQkvRopeFp8(cudaStream_t s, bf16* qOut, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows,
                          int in, kv8* kc, kv8* vc, const int* slots, const int* pos, const float* inv, int heads,
                          int kvHeads, int headDim, int rot);
/**
 * y (rows, out) bf16 = x · Wᵀ (+ bias) for an FP8 W on the tensor cores (mma.sync, W dequantized to bf16 in shared
 * memory): any rows; false when it does not apply (in % 64, alignment).
 */
bool launchGemmFp8(cudaStream_t s, bf16* y, int ldy, const bf16* x, int ldx, Fp8Mat w, const bf16* bias, int rows,
                   int in, int out);
/** launchGroupedGemv for FP8 experts: expert e's scales start at w.s + e·sStride. */
bool launchGroupedGemvFp8(cudaStream_t s, bf16* y, const bf16* x, Fp8Mat w, long long sStride, const int* expertIds,
                          const int* offsets, int groups, int in, int out);

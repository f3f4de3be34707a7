// The tensor-core decode attention (attention_decode_tc.cu, cuda.decodeAttnTc): what its JNI entry and self-check
// share.
#pragma once
#include "kernels.cuh"

/** Most splits per (token, KV head) the tensor-core decode attention takes (it merges them itself). */
constexpr int DECODE_TC_MAX_SPLITS = 128;

/**
 * Variants of the tensor-core decode attention, by warps per block (a K/V tile is 16 keys per warp, double-buffered):
 * 0 = 4 warps (64-key tiles, ~68 KiB shared memory at headDim 128), 1 = 2 warps (32 keys, ~36 KiB), 2 = 1 warp (16
 * keys, ~21 KiB). Same arithmetic per key, same fixed-order merges; they differ in blocks per SM and latency chains.
 */
constexpr int DECODE_TC_VARIANTS = 3;

/** The variant later launches take (process-wide; a benchmark switch, default 0). Out of range: 0. */
void setDecodeAttentionTcVariant(int variant);

/** The variant launches take now. */
int decodeAttentionTcVariant();

/** Warps per block of a variant (0 when out of range). */
int decodeAttentionTcWarps(int variant);

/** Whether the tensor-core decode attention serves these heads: headDim 64 or 128, query heads a multiple of KV heads. */
bool decodeAttentionTcSupported(int heads, int kvHeads, int headDim);

/**
 * Paged causal attention of `rows` decode rows (any query rows, each its own token) on the tensor cores, with the
 * arguments of launchAttention (partials (rows, heads, splits, headDim + 2) fp32 when splits > 1; counters: null or
 * rows·heads zeroed ints, left zero). False, launching nothing, when the shape is not served (see
 * decodeAttentionTcSupported; splits above DECODE_TC_MAX_SPLITS; q or ldq not 16-byte aligned): the caller then runs
 * launchAttention.
 */
bool launchDecodeAttentionTc(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                             const bf16* kc, const bf16* vc, const int* tokSeq, const int* pos, const int* tables,
                             int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                             int partition, int splits);
/** launchDecodeAttentionTc over an FP8 cache: each tile's E4M3 codes are written to shared memory as bf16. */
bool launchDecodeAttentionTc(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                             const kv8* kc, const kv8* vc, const int* tokSeq, const int* pos, const int* tables,
                             int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                             int partition, int splits);

// What the attention launcher (attention.cu) and its planner (attention_plan.cu) share.
#pragma once
#include <string>
#include "kernels.cuh"

/** Largest headDim of attentionAnyK (each lane holds headDim / 32 accumulators). */
constexpr int ANY_MAX_HEAD_DIM = 256;

// The (G, DPL) pairs with a kernel of their own: attentionK<G, DPL>, attention2K<G, DPL, false> (a block per KV head)
// and attention2K<G, DPL, true> (hg blocks per KV head, each serving G of its query heads).
#define ATTN_KERNELS(X) X(1, 1) X(1, 2) X(1, 4) X(2, 1) X(2, 2) X(2, 4) X(4, 1) X(4, 2) X(4, 4) X(8, 1) X(8, 2) \
  X(8, 4) X(12, 4) X(16, 2) X(16, 4)

// ---- the tensor-core prefill attention (attention_prefill.cu) ----
/** Whether prefillAttentionK serves these heads: headDim 64 or 128, query heads a multiple of the KV heads. */
bool prefillAttentionSupported(int heads, int kvHeads, int headDim);
/**
 * launchAttention for a step whose rows include prefill segments: hostSegs / devSegs hold nseg (first row, rows)
 * pairs, each the query rows of one sequence (consecutive rows, one block table), on the host and the device. The
 * segments' rows run prefillAttentionK (when prefillAttentionSupported and q is 16-byte aligned), every other row the
 * kernel of launchAttention, one launch per run of consecutive rows (partials and counters offset accordingly). With
 * nseg 0 exactly launchAttention. False when a segment is out of range or segments overlap, or no kernel exists.
 */
bool launchAttentionMixed(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                          const bf16* kc, const bf16* vc, const int* tokSeq, const int* pos, const int* tables,
                          int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                          int partition, int splits, const int* hostSegs, const int* devSegs, int nseg);
/**
 * launchAttentionMixed over an FP8 cache (the prefill kernel writes each tile's E4M3 codes to shared memory as bf16).
 */
bool launchAttentionMixed(cudaStream_t s, bf16* out, float* part, int* counters, const bf16* q, int ldq,
                          const kv8* kc, const kv8* vc, const int* tokSeq, const int* pos, const int* tables,
                          int stride, int blockSize, int rows, int heads, int kvHeads, int headDim, float scale,
                          int partition, int splits, const int* hostSegs, const int* devSegs, int nseg);
/** The prefill kernel's shape for these heads, in words (tokens × heads per block). */
std::string prefillAttentionKernelName(int heads, int kvHeads, int headDim);

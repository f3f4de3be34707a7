// What the attention launcher (attention.cu) and its planner (attention_plan.cu) share.
#pragma once

/** Largest headDim of attentionAnyK (each lane holds headDim / 32 accumulators). */
constexpr int ANY_MAX_HEAD_DIM = 256;

// The (G, DPL) pairs with a kernel of their own: attentionK<G, DPL>, attention2K<G, DPL, false> (a block per KV head)
// and attention2K<G, DPL, true> (hg blocks per KV head, each serving G of its query heads).
#define ATTN_KERNELS(X) X(1, 1) X(1, 2) X(1, 4) X(2, 1) X(2, 2) X(2, 4) X(4, 1) X(4, 2) X(4, 4) X(8, 1) X(8, 2) \
  X(8, 4) X(12, 4) X(16, 2) X(16, 4)

// Which attention kernel serves a shape (planAttention), under the process-wide attention settings.
#include "common.cuh"
#include "attention.cuh"

static bool compiledGroup(int g, int dpl) {
#define ATTN_HAS(G, DPL) \
  if (g == G && dpl == DPL) return true;
  ATTN_KERNELS(ATTN_HAS)
#undef ATTN_HAS
  return false;
}

AttentionPlan planAttention(int rows, int heads, int kvHeads, int headDim) {
  if (kvHeads < 1 || heads < kvHeads || heads % kvHeads != 0 || headDim < 1 || headDim > ANY_MAX_HEAD_DIM) {
    return {ATTN_NONE, 0, 0, 0};
  }
  int group = heads / kvHeads;
  int dpl = (headDim + 31) / 32;
  if (dpl == 3) dpl = 4;
  bool chunked = g_kernels.attnVariant >= 2 && headDim % 8 == 0;
  if (headDim <= 128) {
    // few (token, KV head) pairs (small-batch decode): one block per query head instead of per KV head, so that more
    // SMs share the chunk's work and each block's latency chain is shorter (the K and V rows come from L2 for the
    // second block of a KV head on); the same arithmetic per head, so the results are bit for bit the same
    if (g_kernels.attnSplitHeads && chunked && group > 1 && (long)rows * kvHeads < 32) return {ATTN_CHUNKED, 1, dpl, group};
    if (compiledGroup(group, dpl)) return {chunked ? ATTN_CHUNKED : ATTN_FIRST, group, dpl, 1};
    // a group without a kernel of its own (24 at GLM-4-32B shapes): hg blocks per KV head of the largest compiled G
    // that divides it; each block reads the KV head's rows (from L2 after the first)
    if (chunked) {
      for (int g : {16, 12, 8, 4, 2, 1}) {
        if (group % g == 0 && compiledGroup(g, dpl)) return {ATTN_CHUNKED, g, dpl, group / g};
      }
    }
  }
  return {ATTN_ANY, 1, 0, group};
}

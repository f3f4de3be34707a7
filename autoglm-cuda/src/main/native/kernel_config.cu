// The kernels' process-wide settings and the profiling spin kernel.
#include "common.cuh"

KernelConfig g_kernels;

void setPdl(bool on) { g_kernels.pdl = on; }

void setGemvVariant(int v) { g_kernels.gemvVariant = v; }

void setGemvTc(int minRows) { g_kernels.gemvTc = minRows; }

void setFp8GemvTc(int minRows) { g_kernels.fp8GemvTc = minRows; }

void setAttentionVariant(int v) { g_kernels.attnVariant = v; }

void setAttentionSplitHeads(bool on) { g_kernels.attnSplitHeads = on; }

namespace {
/** One thread busy for ns nanoseconds: keeps the GPU ahead of the host while a profile records events. */
__global__ void spinK(long long ns) {
  unsigned long long t0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  for (;;) {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    if ((long long)(t - t0) >= ns) break;
  }
}
}  // namespace

void launchSpin(cudaStream_t s, long long ns) { launchK(false, spinK, 1, 1, s, ns); }

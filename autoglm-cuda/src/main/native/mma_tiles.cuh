// The tensor-core tile helpers of the prefill and decode attentions (attention_prefill.cu, attention_decode_tc.cu):
// cp.async, ldmatrix, the bf16 m16n8k16 MMA and the XOR-swizzled shared tiles.
#pragma once
#include "common.cuh"

namespace mma {

__device__ __forceinline__ unsigned smemAddr(const void* p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

/** 16 bytes global → shared, asynchronously; zero-filled when !valid (src is then not read). */
__device__ __forceinline__ void cpAsync16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smemAddr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;"); }

template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smemAddr(p)));
}

__device__ __forceinline__ void ldmatrix4T(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smemAddr(p)));
}

/** c (16×8 fp32) += a (16×16 bf16, row) · b (16×8 bf16, col). */
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned packBf2(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  unsigned u;
  memcpy(&u, &v, 4);
  return u;
}

/**
 * Element offset of 16-byte chunk `chunk` of row `row` in a shared tile of D-element rows: the chunk index is XORed
 * with the row's low 3 bits, so the 8 rows an ldmatrix phase reads (or a cp.async warp writes) hit 8 different bank
 * groups although the rows are 128 or 256 bytes apart.
 */
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

}  // namespace mma

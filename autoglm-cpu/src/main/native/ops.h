// The backend's context, its steps and KV caches, and the decoder ops on fp32 activations (ops.cpp).
#pragma once
#include <memory>

#include "common.h"

namespace agc {

struct Context {
  const Kernels* k;
  std::unique_ptr<Pool> pool;
  int bf16_gemm_min_rows;  // rows from which BF16 weights use the bf16-activation GEMM (vdpbf16ps), when the level has it
};

struct KvCache {
  int layers;
  int64_t slots, width;    // width = kvHeads × headDim
  int kv_heads, head_dim;
  bool fp8;                  // values stored as FP8 E4M3 codes (scale 1), else fp32
  std::vector<void*> k, v;   // per layer: slots × width fp32, or bytes when fp8
  int64_t elem_bytes() const { return fp8 ? 1 : 4; }
};

// The FP8 E4M3 code nearest x (ties to even, saturating to ±448, NaN to 0x7f): io.autoglm.safetensors.Fp8.encode.
uint8_t fp8_encode(float x);

struct Sequence {
  int query_start, query_len, context_len;
  int64_t ctx_offset;  // into Step::ctx_slots
};

struct Step {
  Context* ctx;
  std::unique_ptr<Arena> arena;
  int tokens;
  std::vector<int> token_ids, positions, slots;
  std::vector<Sequence> seqs;
  std::vector<int> ctx_slots;  // each sequence's slots of positions 0..contextLen-1, back to back
};

// Activations: rows × cols fp32 with a row stride of ld floats.
struct Act {
  const float* p;
  int64_t ld;
};

// 64-byte aligned memory (huge pages asked for when large); std::free releases it.
void* big_alloc(size_t bytes);

// Weights
Weight* weight_create(int fmt, int64_t rows, int64_t cols);
void weight_free(Weight* w);
int64_t weight_bytes(const Weight* w);
// Converts rows [row0, row0 + n) from src (dtype 0 F32, 1 BF16, 2 F16, little-endian, n × cols) into w's format.
void weight_fill(Context* c, Weight* w, int64_t row0, const void* src, int src_dtype, int64_t n);
void weight_row(const Weight* w, int64_t row, float* out);  // dequantized

// Ops; each returns its output, allocated in the step's arena (null when it is out of memory).
float* op_embedding(Step* s, const Weight* table, int64_t first_row);
float* op_rmsnorm(Step* s, Act x, int64_t rows, int64_t cols, const Weight* w, float eps);
float* op_add(Step* s, Act a, Act b, int64_t rows, int64_t cols);
float* op_linear(Step* s, Act x, int64_t rows, const Weight* w, const Weight* bias);
float* op_silu_mul(Step* s, Act x, int64_t rows, int64_t cols);
float* op_rope(Step* s, Act x, int heads, int head_dim, int rot, bool interleaved, const float* cos,
               const float* sin);
void op_write_kv(Step* s, KvCache* kv, int layer, Act k, Act v);
float* op_attention(Step* s, KvCache* kv, int layer, Act q, int heads, float scale);
float* op_rows(Step* s, Act x, int64_t cols, const int* rows, int n);

// Read bandwidth of the pool's threads streaming through `bytes` bytes, best of `runs`, bytes per second.
double read_bandwidth(Context* c, int64_t bytes, int runs);

}  // namespace agc

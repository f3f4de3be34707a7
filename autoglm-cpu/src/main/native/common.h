// Shared declarations of libautoglm_cpu: weight formats, the per-level kernel table, the thread pool, the arena.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace agc {

// Matrix formats. 1-D weights (norms, biases) are always F32.
enum Format : int { FMT_F32 = 0, FMT_BF16 = 1, FMT_Q8 = 2 };

// Elements per int8 block (one fp16 scale each), as GGUF's Q8_0.
constexpr int64_t Q8_BLOCK = 32;
// K is reduced in chunks of this many elements, whatever the row count, so that a row's result does not depend on
// how many rows share the call (batched == single, bit for bit, on one dispatch level).
constexpr int64_t K_CHUNK = 1024;

struct Weight {
  int fmt;
  int64_t rows, cols;
  void* data;        // F32: float, BF16: uint16 bf16 bits, Q8: int8
  uint16_t* scales;  // Q8 only: fp16 scale per (row, 32-block), rows × cols/32
};

// A level's GEMM/GEMV kernels. y[m·ldy + n] = Σ_k x[m·ldx + k] · w[n][k] (+ bias[n]) for m < M, n in [n0, n1).
struct Kernels {
  const char* name;
  // fp32 activations, weights dequantized in registers: exact fp32 products of the stored weights
  void (*matmul)(const Weight* w, const float* x, int64_t ldx, int M, float* y, int64_t ldy, const float* bias,
                 int64_t n0, int64_t n1);
  // bf16 activations (xb: M rows of ldxb bf16) × BF16 weights with vdpbf16ps; null where the level has none
  void (*matmul_bf16)(const Weight* w, const uint16_t* xb, int64_t ldxb, int M, float* y, int64_t ldy,
                      const float* bias, int64_t n0, int64_t n1);
  // fp32 → bf16, round to nearest even (n elements)
  void (*to_bf16)(const float* x, uint16_t* out, int64_t n);
  // Σ a[i]·b[i] over n floats, and y += a·x over n floats (attention)
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);
};

const Kernels* kernels_scalar();
const Kernels* kernels_avx2();     // null when not compiled in
const Kernels* kernels_avx512();   // null when not compiled in

// The level the CPU supports best, or the named one ("scalar", "avx2", "avx512"); null when the name is unknown or
// the CPU lacks it.
const Kernels* select_kernels(const char* name);
const char* best_level_name();

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {  // round to nearest even; NaN stays NaN
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// A small pool: the calling thread is worker 0. run(n, fn) calls fn(task) for task in [0, n), tasks taken
// dynamically (the cores are shared; a slow worker gets fewer tasks), and returns when all are done.
class Pool {
 public:
  explicit Pool(int threads);
  ~Pool();
  int threads() const { return nthreads_; }
  void run(int64_t tasks, const std::function<void(int64_t)>& fn);

 private:
  void worker(int id);
  void work();
  int nthreads_;
  std::vector<std::thread> th_;
  std::mutex run_mu_;  // one run at a time (steps of one backend on two threads take turns)
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> busy_{0};
  int64_t tasks_ = 0;
  const std::function<void(int64_t)>* fn_ = nullptr;
  bool stop_ = false;
};

// A bump allocator over 64-byte aligned chunks; reset() keeps one chunk of the high-water size.
class Arena {
 public:
  ~Arena();
  void* alloc(size_t bytes);
  void reset();
 private:
  std::vector<std::pair<char*, size_t>> chunks_;
  size_t used_ = 0;   // in the last chunk
  size_t total_ = 0;  // bytes handed out since the last reset
};

}  // namespace agc

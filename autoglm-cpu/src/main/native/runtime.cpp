// The thread pool, the step arena, fp16 conversion and the choice of dispatch level.
#include <cstdlib>
#include <cstring>

#include "common.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AGC_PAUSE() _mm_pause()
#else
#define AGC_PAUSE() std::this_thread::yield()
#endif

namespace agc {

float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { man <<= 1; e++; } while ((man & 0x400) == 0);
      u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {  // round to nearest even, as _cvtss_sh does
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
  uint32_t man = u & 0x7fffff;
  if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
  return (uint16_t)half;
}

static bool cpu_has(const char* level) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (std::strcmp(level, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16") &&
           __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c");
  if (std::strcmp(level, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  (void)level;
#endif
  return false;
}

const Kernels* select_kernels(const char* name) {
  if (name == nullptr || *name == 0) name = best_level_name();
  if (std::strcmp(name, "scalar") == 0) return kernels_scalar();
  if (std::strcmp(name, "avx2") == 0) return cpu_has("avx2") ? kernels_avx2() : nullptr;
  if (std::strcmp(name, "avx512") == 0) return cpu_has("avx512") ? kernels_avx512() : nullptr;
  return nullptr;
}

const char* best_level_name() {
  if (cpu_has("avx512") && kernels_avx512()) return "avx512";
  if (cpu_has("avx2") && kernels_avx2()) return "avx2";
  return "scalar";
}

// ---- pool -----------------------------------------------------------------------------------------------------

Pool::Pool(int threads) : nthreads_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < nthreads_; i++) th_.emplace_back([this, i] { worker(i); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
    gen_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : th_) t.join();
}

void Pool::work() {
  for (;;) {
    int64_t t = next_.fetch_add(1);
    if (t >= tasks_) break;
    (*fn_)(t);
  }
}

void Pool::run(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (nthreads_ == 1 || tasks <= 1) {
    for (int64_t t = 0; t < tasks; t++) fn(t);
    return;
  }
  std::lock_guard<std::mutex> one(run_mu_);
  {
    std::lock_guard<std::mutex> g(mu_);
    fn_ = &fn;
    tasks_ = tasks;
    next_.store(0);
    busy_.store(nthreads_ - 1);
    gen_.fetch_add(1);
  }
  cv_.notify_all();
  work();
  for (int spins = 0; busy_.load(std::memory_order_acquire) != 0; spins++) {
    if (spins < 100000) AGC_PAUSE(); else std::this_thread::yield();
  }
}

void Pool::worker(int) {
  uint64_t seen = 0;
  for (;;) {
    // spin a little for the next op of the step (ops come microseconds apart), then sleep
    for (int i = 0; i < 20000 && gen_.load(std::memory_order_acquire) == seen; i++) AGC_PAUSE();
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return gen_.load() != seen; });
      seen = gen_.load();
      if (stop_) return;
    }
    work();
    busy_.fetch_sub(1, std::memory_order_release);
  }
}

// ---- arena ----------------------------------------------------------------------------------------------------

Arena::~Arena() {
  for (auto& c : chunks_) std::free(c.first);
}

void* Arena::alloc(size_t bytes) {
  bytes = (bytes + 63) & ~(size_t)63;
  if (chunks_.empty() || used_ + bytes > chunks_.back().second) {
    size_t size = bytes < (64u << 20) ? (64u << 20) : bytes;
    char* p = (char*)std::aligned_alloc(64, size);
    if (p == nullptr) return nullptr;
    chunks_.emplace_back(p, size);
    used_ = 0;
  }
  void* out = chunks_.back().first + used_;
  used_ += bytes;
  total_ += bytes;
  return out;
}

void Arena::reset() {
  if (chunks_.size() > 1) {  // keep one chunk that holds a whole step
    size_t want = total_ + 64;
    for (auto& c : chunks_) std::free(c.first);
    chunks_.clear();
    char* p = (char*)std::aligned_alloc(64, (want + 63) & ~(size_t)63);
    if (p) chunks_.emplace_back(p, (want + 63) & ~(size_t)63);
  }
  used_ = 0;
  total_ = 0;
}

}  // namespace agc

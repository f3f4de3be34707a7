// Self-check and timing of the tensor-core GEMV (gemv_tc.cu) against the in-split GEMVs, cuBLAS and a
// double-precision CPU reference: JNI entry points of io.autoglm.cuda.CudaSelfTests.
#include "bridge.cuh"
#include "selftest.cuh"
#include <cmath>
#include <vector>

#undef JNI
#define JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaSelfTests_##name

namespace {

/** p[i] = bf16(scale · (u(seed, i) − 0.5)), u a hash of (seed, i) in [0, 1). */
__global__ void fillK(bf16* p, size_t n, unsigned long long seed, float scale) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    unsigned long long z = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 29;
    p[i] = tobf(((float)((z >> 40) & 0xffff) / 65536.f - 0.5f) * scale);
  }
}

/** Device buffers freed together. */
struct Bufs {
  std::vector<void*> all;
  ~Bufs() {
    cudaDeviceSynchronize();
    for (void* q : all) cudaFree(q);
  }
  template <typename V>
  V* get(size_t n) {
    void* d = nullptr;
    if (cudaMalloc(&d, n * sizeof(V) < 16 ? 16 : n * sizeof(V)) != cudaSuccess) return nullptr;
    all.push_back(d);
    return (V*)d;
  }
};

bf16* filled(Bufs& b, cudaStream_t s, size_t n, unsigned long long seed, float scale) {
  bf16* p = b.get<bf16>(n);
  if (p != nullptr) launchK(false, fillK, 1024, 256, s, p, n, seed, scale);
  return p;
}

float hostBf(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

template <typename V>
std::vector<V> download(const void* d, size_t n) {
  std::vector<V> h(n);
  cudaMemcpy(h.data(), d, n * sizeof(V), cudaMemcpyDeviceToHost);
  return h;
}

/** The outputs (rows, n) as doubles: fp32 or bf16. */
std::vector<double> outputs(const void* d, size_t n, bool f32) {
  std::vector<double> r(n);
  if (f32) {
    std::vector<float> h = download<float>(d, n);
    for (size_t i = 0; i < n; i++) r[i] = h[i];
  } else {
    std::vector<uint16_t> h = download<uint16_t>(d, n);
    for (size_t i = 0; i < n; i++) r[i] = hostBf(h[i]);
  }
  return r;
}

/** The CPU reference of the sampled features (every stride-th) of 8 rows: (8, n) with NaN where not sampled. */
std::vector<double> reference(const std::vector<uint16_t>& w, const std::vector<uint16_t>& x, int ldx,
                              const std::vector<uint16_t>& bias, int in, int n, bool silu, int stride) {
  std::vector<double> ref((size_t)8 * n, NAN);
  auto dot = [&](int t, size_t row) {
    double s = 0;
    for (int k = 0; k < in; k++) s += (double)hostBf(w[row * in + k]) * hostBf(x[(size_t)t * ldx + k]);
    return s;
  };
  for (int t = 0; t < 8; t++) {
    for (int f = 0; f < n; f += stride) {
      double v = dot(t, f);
      if (silu) {
        v = v / (1 + std::exp(-v)) * dot(t, (size_t)n + f);
      } else if (!bias.empty()) {
        v += hostBf(bias[f]);
      }
      ref[(size_t)t * n + f] = v;
    }
  }
  return ref;
}

/** {relative Frobenius error, max |Δ|, max |b|} of a against b over rows·n entries (NaN in b: skipped). */
void compare(double* o, const std::vector<double>& a, const std::vector<double>& b, size_t count) {
  double d2 = 0, b2 = 0, md = 0, mb = 0;
  for (size_t i = 0; i < count; i++) {
    if (std::isnan(b[i])) continue;
    double d = a[i] - b[i];
    d2 += d * d, b2 += b[i] * b[i];
    md = std::max(md, std::fabs(d)), mb = std::max(mb, std::fabs(b[i]));
  }
  o[0] = b2 > 0 ? std::sqrt(d2 / b2) : (d2 > 0 ? INFINITY : 0);
  o[1] = md;
  o[2] = mb;
}

size_t differing(const void* a, const void* b, size_t bytes) {
  std::vector<uint8_t> ha = download<uint8_t>(a, bytes), hb = download<uint8_t>(b, bytes);
  size_t d = 0;
  for (size_t i = 0; i < bytes; i++) d += ha[i] != hb[i];
  return d;
}

/**
 * The current (in-split) GEMV: launchGemv / launchGemvSilu with the tensor-core GEMV off; where launchGemvSilu
 * declines (a split of 8), launchGemv into gu (rows, 2·n) then siluMul, as the steps do.
 */
bool currentGemv(cudaStream_t s, void* y, int n, bool f32, const bf16* x, int ldx, const bf16* w, const bf16* bias,
                 int rows, int in, int mode, bf16* gu) {
  selftest::CudaCoreGemv cudaCore;
  if (mode != 2) return launchGemv(s, y, n, f32, x, ldx, w, bias, rows, in, n);
  if (launchGemvSilu(s, (bf16*)y, x, ldx, w, rows, in, n)) return true;
  if (!launchGemv(s, gu, 2 * n, false, x, ldx, w, nullptr, rows, in, 2 * n)) return false;
  launchSiluMul(s, (bf16*)y, gu, 2 * n, rows, n);
  return true;
}

bool tcGemv(cudaStream_t s, void* y, int n, bool f32, const bf16* x, int ldx, const bf16* w, const bf16* bias,
            int rows, int in, int mode) {
  return mode == 2 ? launchGemvTcSilu(s, (bf16*)y, x, ldx, w, rows, in, n)
                   : launchGemvTc(s, y, n, f32, x, ldx, w, bias, rows, in, n);
}

constexpr int TC_CHECK_FIELDS = 8;

}  // namespace

/**
 * The tensor-core GEMV of weight (out, in) (mode 0: bf16 out, 1: fp32 out, 2: gate_up with SiLU·mul, out = 2·inter)
 * for rows 1..8 (x with a padded leading dimension), against the CPU reference on sampled features, the in-split
 * GEMV, itself (a rerun) and, mode 2, the tensor-core GEMV followed by siluMul. Per rows: {relative Frobenius error vs
 * reference, max |Δ| vs reference, max |reference|, the same three vs the in-split GEMV, rerun bytes differing, SiLU
 * outputs differing}; {-1}: declined; {-2}: out of memory.
 */
JNI(jdoubleArray, selfTestGemvTc)(JNIEnv* env, jclass, jlong h, jint in, jint out, jint mode, jboolean withBias,
                                  jlong seed) {
  Context* c = ctx(h);
  cudaStream_t s = c->stream;
  bool f32 = mode == 1, silu = mode == 2;
  int n = silu ? out / 2 : out, ldx = in + 8;
  size_t ysz = (size_t)8 * n * (f32 ? 4 : 2);
  std::vector<double> res;
  {
    Bufs b;
    bf16* w = filled(b, s, (size_t)out * in, seed, 0.05f);
    bf16* x = filled(b, s, (size_t)8 * ldx, seed + 1, 2.f);
    bf16* bias = withBias ? filled(b, s, out, seed + 2, 1.f) : nullptr;
    void *y1 = b.get<uint8_t>(ysz), *y2 = b.get<uint8_t>(ysz), *y3 = b.get<uint8_t>(ysz), *y4 = b.get<uint8_t>(ysz);
    bf16* gu = silu ? b.get<bf16>((size_t)8 * out) : nullptr;
    if (!w || !x || (withBias && !bias) || !y1 || !y2 || !y3 || !y4 || (silu && !gu)) {
      res = {-2};
    } else if (ok(env, cudaStreamSynchronize(s), "selfTestGemvTc fill")) {
      std::vector<uint16_t> hw = download<uint16_t>(w, (size_t)out * in), hx = download<uint16_t>(x, (size_t)8 * ldx);
      std::vector<uint16_t> hb = withBias ? download<uint16_t>(bias, out) : std::vector<uint16_t>();
      std::vector<double> ref = reference(hw, hx, ldx, hb, in, n, silu, n > 2048 ? n / 2048 : 1);
      for (int rows = 1; rows <= 8 && res.size() != 1; rows++) {
        bool ran = tcGemv(s, y1, n, f32, x, ldx, w, bias, rows, in, mode) &&
                   tcGemv(s, y2, n, f32, x, ldx, w, bias, rows, in, mode) &&
                   currentGemv(s, y3, n, f32, x, ldx, w, bias, rows, in, mode, gu);
        if (ran && silu) {
          launchGemvTc(s, gu, out, false, x, ldx, w, nullptr, rows, in, out);
          launchSiluMul(s, (bf16*)y4, gu, out, rows, n);
        }
        if (!ran) {
          res = {-1};
          break;
        }
        if (!ok(env, cudaStreamSynchronize(s), "selfTestGemvTc kernels")) return nullptr;
        size_t count = (size_t)rows * n, bytes = count * (f32 ? 4 : 2);
        std::vector<double> a = outputs(y1, count, f32), old = outputs(y3, count, f32);
        double o[TC_CHECK_FIELDS];
        compare(o, a, ref, count);
        compare(o + 3, a, old, count);
        o[6] = (double)differing(y1, y2, bytes);
        o[7] = silu ? (double)differing(y1, y4, bytes) : 0;
        res.insert(res.end(), o, o + TC_CHECK_FIELDS);
      }
    }
  }
  if (env->ExceptionCheck()) return nullptr;
  jdoubleArray r = env->NewDoubleArray((jsize)res.size());
  if (r != nullptr) env->SetDoubleArrayRegion(r, 0, (jsize)res.size(), res.data());
  return r;
}

/**
 * GPU µs per launch (events, `iters` launches after a warm-up) of kernel `kind` (0: the in-split GEMV, 1: the
 * tensor-core GEMV, 2: cuBLAS, + siluMul in mode 2) for weight (out, in) in mode (as selfTestGemvTc) with or
 * without bias, cycling through enough weight copies that they do not stay in L2. -1: declined; -2: out of memory.
 */
JNI(jdouble, timeGemvTc)(JNIEnv* env, jclass, jlong h, jint kind, jint mode, jboolean withBias, jint rows, jint in,
                         jint out, jint iters) {
  Context* c = ctx(h);
  cudaStream_t s = c->stream;
  bool f32 = mode == 1, silu = mode == 2;
  int n = silu ? out / 2 : out;
  size_t wn = (size_t)out * in;
  int copies = (int)std::min<size_t>(16, std::max<size_t>(1, ((size_t)512 << 20) / (wn * 2)));
  Bufs b;
  std::vector<bf16*> ws;
  for (int i = 0; i < copies; i++) ws.push_back(filled(b, s, wn, 11 + i, 0.05f));
  bf16* x = filled(b, s, (size_t)8 * in, 5, 2.f);
  bf16* bias = withBias ? filled(b, s, out, 6, 1.f) : nullptr;
  void* y = b.get<uint8_t>((size_t)8 * n * 4);
  bf16* gu = b.get<bf16>((size_t)8 * out);
  for (bf16* w : ws) {
    if (w == nullptr) return -2;
  }
  if (!x || !y || !gu || (withBias && !bias)) return -2;
  auto one = [&](int i) -> bool {
    const bf16* w = ws[i % copies];
    if (kind == 0) return currentGemv(s, y, n, f32, x, in, w, bias, rows, in, mode, gu);
    if (kind == 1) return tcGemv(s, y, n, f32, x, in, w, bias, rows, in, mode);
    if (!gemmBf16(env, c, silu ? (void*)gu : y, silu ? out : n, f32, x, in, w, bias, rows, in, out)) return false;
    if (silu) launchSiluMul(s, (bf16*)y, gu, out, rows, n);
    return true;
  };
  return selftest::microsPerCall(env, s, iters, one, "timeGemvTc");
}

// The cuBLASLt GEMM path's self-check and timings (JNI class io.autoglm.cuda.CudaGemmTests in the bench jar), on
// random data filled on the device: Lt with the heuristic's first algorithm and with the tuned choice against
// cublasGemmEx (+ the bias added in fp32), and GPU µs of each over weight copies cycled so that W comes from HBM.
#include "bridge.cuh"
#include "common.cuh"
#include <cuda_fp8.h>

#define JNI_T(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaGemmTests_##name

namespace {

__global__ void fillK(bf16* p, size_t n, unsigned long long seed, float scale) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    unsigned long long z = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    p[i] = tobf(((float)(z >> 40) / 16777216.f - 0.5f) * scale);
  }
}

__device__ __forceinline__ float val(const bf16* p, size_t i) { return bf(p[i]); }
__device__ __forceinline__ float val(const float* p, size_t i) { return p[i]; }

/**
 * got against ref = ex + bias (ex: cublasGemmEx's output, bias added here in fp32). stats: [0] Σd², [1] Σref²,
 * [2] max |d|, [3] max |ref|, [4] elements with |d| > 2^-8·(|ex| + |got|) + 2^-12·maxRef (pass 2 only, maxRef > 0).
 */
template <typename T>
__global__ void compareK(const T* got, const T* ex, const bf16* bias, int out, size_t n, double* stats,
                         float maxRef) {
  double d2 = 0, r2 = 0, bad = 0;
  float maxD = 0, maxR = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float e = val(ex, i), g = val(got, i);
    float r = e + (bias ? bf(bias[i % out]) : 0.f);
    float d = fabsf(g - r);
    d2 += (double)d * d;
    r2 += (double)r * r;
    maxD = fmaxf(maxD, d);
    maxR = fmaxf(maxR, fabsf(r));
    if (maxRef > 0 && !(d <= 0.00390625f * (fabsf(e) + fabsf(g)) + maxRef / 4096.f)) bad += 1;  // NaN counts
  }
  atomicAdd(&stats[0], d2);
  atomicAdd(&stats[1], r2);
  atomicMax((unsigned int*)&stats[2], __float_as_uint(maxD));  // non-negative floats order as their bits
  atomicMax((unsigned int*)&stats[3], __float_as_uint(maxR));
  atomicAdd(&stats[4], bad);
}

__global__ void differK(const unsigned short* a, const unsigned short* b, size_t n, double* count) {
  double c = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    c += a[i] != b[i] ? 1 : 0;
  }
  atomicAdd(count, c);
}

/** Device buffers of one call, freed together (after the stream drains). */
struct Buffers {
  cudaStream_t st;
  std::vector<void*> all;
  explicit Buffers(cudaStream_t s) : st(s) {}
  ~Buffers() {
    cudaStreamSynchronize(st);
    for (void* p : all) cudaFree(p);
  }
  template <typename T>
  T* get(size_t bytes) {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes < 256 ? 256 : bytes) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    all.push_back(p);
    cudaMemsetAsync(p, 0, bytes, st);
    return (T*)p;
  }
  bf16* random(size_t n, unsigned long long seed, float scale) {
    bf16* p = get<bf16>(n * 2);
    if (p) fillK<<<1024, 256, 0, st>>>(p, n, seed, scale);
    return p;
  }
};

/** Runs candidate `pick` of the shape (-1: cublasGemmEx + addBias) into y; the status. */
int runPick(Context* c, LtShape* s, int pick, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w,
            const void* bias, int rows, int in, int out) {
  return pick < 0 ? gemmExRun(c, y, ldy, f32Out, x, ldx, w, bias, rows, in, out)
                  : ltMatmul(c, s, pick, y, x, w, bias);
}

/** {rel Frobenius, max|d| / max|ref|, elements outside the elementwise bound} of got against ex (+ bias). */
void compare(Context* c, double* stats, const void* got, const void* ex, const bf16* bias, bool f32, int out,
             size_t n, double* res) {
  double host[5];
  float maxRef = 0;
  for (int pass = 0; pass < 2; pass++) {
    cudaMemsetAsync(stats, 0, 5 * sizeof(double), c->stream);
    if (f32) compareK<<<512, 256, 0, c->stream>>>((const float*)got, (const float*)ex, bias, out, n, stats, maxRef);
    else compareK<<<512, 256, 0, c->stream>>>((const bf16*)got, (const bf16*)ex, bias, out, n, stats, maxRef);
    cudaMemcpyAsync(host, stats, sizeof host, cudaMemcpyDeviceToHost, c->stream);
    cudaStreamSynchronize(c->stream);
    unsigned int bits;
    memcpy(&bits, &host[3], 4);
    memcpy(&maxRef, &bits, 4);
  }
  unsigned int dBits;
  float maxD;
  memcpy(&dBits, &host[2], 4);
  memcpy(&maxD, &dBits, 4);
  res[0] = sqrt(host[0] / host[1]);
  res[1] = maxD / maxRef;
  res[2] = host[4];
}

float hostBf(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/**
 * An independent reference at 256 sampled (row, column) elements: the exact dot product in fp64 of the device's own
 * bf16 x and W rows (+ bias where `biased[j]`). worst[j] = max |outs[j] − exact| / (2^-8·(|x·w| + |exact|) +
 * 2^-12·Σ|x_k·w_k|): up to two bf16 roundings of half an ulp (≤ 2^-8 of the value each) plus fp32 summation in any
 * order (typically ~√K·2^-24·Σ|x_k·w_k|; the 2^-12 leaves a wide margin, and catches sums of bf16-rounded partials).
 */
void sampled(Context* c, const bf16* x, const bf16* w, const bf16* bias, int rows, int in, int out, bool f32,
             const void* const* outs, const bool* biased, int n, double* worst) {
  std::vector<uint16_t> xr(in), wr(in);
  unsigned long long z = 12345;
  for (int t = 0; t < 256; t++) {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    int r = (int)((z >> 33) % rows), col = (int)((z >> 7) % out);
    uint16_t b = 0;
    unsigned char got[4][4];
    cudaMemcpyAsync(xr.data(), x + (size_t)r * in, 2 * in, cudaMemcpyDeviceToHost, c->stream);
    cudaMemcpyAsync(wr.data(), w + (size_t)col * in, 2 * in, cudaMemcpyDeviceToHost, c->stream);
    if (bias) cudaMemcpyAsync(&b, bias + col, 2, cudaMemcpyDeviceToHost, c->stream);
    size_t es = f32 ? 4 : 2, at = ((size_t)r * out + col) * es;
    for (int j = 0; j < n; j++) {
      cudaMemcpyAsync(got[j], (const char*)outs[j] + at, es, cudaMemcpyDeviceToHost, c->stream);
    }
    cudaStreamSynchronize(c->stream);
    double acc = 0, mag = 0;
    for (int k = 0; k < in; k++) {
      double q = (double)hostBf(xr[k]) * hostBf(wr[k]);
      acc += q;
      mag += fabs(q);
    }
    for (int j = 0; j < n; j++) {
      double exact = acc + (biased[j] ? hostBf(b) : 0.f), g;
      if (f32) { float f; memcpy(&f, got[j], 4); g = f; }
      else { uint16_t h; memcpy(&h, got[j], 2); g = hostBf(h); }
      double bound = 0.00390625 * (fabs(acc) + fabs(exact)) + mag / 4096;
      double ratio = fabs(g - exact) / bound;
      worst[j] = ratio > worst[j] || ratio != ratio ? ratio : worst[j];
    }
  }
}

jdoubleArray doubles(JNIEnv* env, const double* v, int n) {
  jdoubleArray a = env->NewDoubleArray(n);
  env->SetDoubleArrayRegion(a, 0, n, v);
  return a;
}

std::string g_described;  // the last timed shape's choice, in words (describeLast)

}  // namespace

/** "cuBLASLt 130100 loaded" or why it is not. */
JNI_T(jstring, ltInfo)(JNIEnv* env, jclass, jlong h) {
  GemmLt* lt = ctx(h)->lt;
  std::string s = lt->lib ? "cuBLASLt " + std::to_string(lt->version()) + " loaded"
                          : "cuBLASLt not loaded; tried:" + lt->tried;
  return env->NewStringUTF(s.c_str());
}

/**
 * y (rows, out) = x·Wᵀ (+ bias) on random data: Lt with the heuristic's first algorithm and with the tuned choice,
 * each against cublasGemmEx (+ bias in fp32). {rel, max|d|/max|ref|, outside elementwise bound} for Lt #0, the same
 * for the tuned choice, elements differing bit for bit between two runs of the tuned choice, its index (-1
 * cublasGemmEx), candidates, elements, then the worst |Δ| / bound against the fp64 reference at sampled elements
 * (sampled()) of cublasGemmEx (no bias), Lt #0 and the tuned choice. {-1}: cuBLASLt unusable for the shape (not loaded, no algorithm); {-2}: out
 * of memory; {-3}: a GEMM call failed.
 */
JNI_T(jdoubleArray, check)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint out, jboolean withBias,
                           jboolean f32Out, jlong seed) {
  Context* c = ctx(h);
  if (c->lt->lib == nullptr) { double v = -1; return doubles(env, &v, 1); }
  Buffers m(c->stream);
  size_t n = (size_t)rows * out, es = f32Out ? 4 : 2;
  bf16* w = m.random((size_t)out * in, seed, 0.05f);
  bf16* x = m.random((size_t)rows * in, seed + 1, 2.f);
  bf16* bias = withBias ? m.random(out, seed + 2, 1.f) : nullptr;
  void *ex = m.get<void>(n * es), *lt0 = m.get<void>(n * es);
  void *tuned = m.get<void>(n * es), *again = m.get<void>(n * es);
  double* stats = m.get<double>(8 * sizeof(double));
  if (!w || !x || (withBias && !bias) || !ex || !lt0 || !tuned || !again || !stats) {
    double v = -2;
    return doubles(env, &v, 1);
  }
  bool transient = false;
  LtShape* s = ltShape(c, ltKey(lt0, out, f32Out, x, in, w, bias, rows, in, out), bias, &transient);
  if (s == nullptr) { double v = -1; return doubles(env, &v, 1); }
  if (s->tuned == -2 && !transient) ltTune(c, s, tuned, out, f32Out, x, in, w, bias, rows, in, out);
  int pick = s->tuned >= -1 ? s->tuned : 0;
  int st = gemmExRun(c, ex, out, f32Out, x, in, w, nullptr, rows, in, out) |
           ltMatmul(c, s, 0, lt0, x, w, bias) |
           runPick(c, s, pick, tuned, out, f32Out, x, in, w, bias, rows, in, out) |
           runPick(c, s, pick, again, out, f32Out, x, in, w, bias, rows, in, out);
  double res[13] = {0};
  compare(c, stats, lt0, ex, bias, f32Out, out, n, res);
  compare(c, stats, tuned, ex, bias, f32Out, out, n, res + 3);
  cudaMemsetAsync(stats, 0, sizeof(double), c->stream);
  differK<<<512, 256, 0, c->stream>>>((const unsigned short*)tuned, (const unsigned short*)again, n * es / 2, stats);
  cudaMemcpyAsync(&res[6], stats, sizeof(double), cudaMemcpyDeviceToHost, c->stream);
  cudaError_t e = cudaStreamSynchronize(c->stream);
  res[7] = pick;
  res[8] = (double)s->candidates.size();
  res[9] = (double)n;
  const void* outs[3] = {ex, lt0, tuned};
  bool biased[3] = {false, withBias != 0, withBias != 0};
  sampled(c, x, w, bias, rows, in, out, f32Out, outs, biased, 3, res + 10);
  if (transient) ltFreeShape(c->lt, s);
  if (!ok(env, e, "cuBLASLt self-check")) return nullptr;
  if (st != 0) { double v = -3; return doubles(env, &v, 1); }
  return doubles(env, res, 13);
}

/**
 * GPU µs per GEMM of y (rows, out) = x·Wᵀ (+ bias), `iters` GEMMs after two warm-ups over copies of W cycled so that
 * together they exceed L2: {cublasGemmEx (+ addBias), Lt heuristic #0, the tuned choice, its index (-1:
 * cublasGemmEx), candidates, µs the tuning measured for it}. {-1}: cuBLASLt unusable; {-2}: out of memory; {-3}: a
 * GEMM call failed.
 */
JNI_T(jdoubleArray, times)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint out, jboolean withBias,
                           jboolean f32Out, jint iters) {
  Context* c = ctx(h);
  if (c->lt->lib == nullptr) { double v = -1; return doubles(env, &v, 1); }
  Buffers m(c->stream);
  size_t wBytes = (size_t)out * in * 2;
  int copies = (int)std::min<size_t>(8, std::max<size_t>(1, ((size_t)192 << 20) / wBytes + 1));
  std::vector<bf16*> w(copies);
  for (int i = 0; i < copies; i++) w[i] = m.random((size_t)out * in, 11 + i, 0.05f);
  bf16* x = m.random((size_t)rows * in, 3, 2.f);
  bf16* bias = withBias ? m.random(out, 5, 1.f) : nullptr;
  void* y = m.get<void>((size_t)rows * out * (f32Out ? 4 : 2));
  for (bf16* p : w) if (!p) x = nullptr;
  if (!x || !y || (withBias && !bias)) { double v = -2; return doubles(env, &v, 1); }
  bool transient = false;
  LtShape* s = ltShape(c, ltKey(y, out, f32Out, x, in, w[0], bias, rows, in, out), bias, &transient);
  if (s == nullptr) { double v = -1; return doubles(env, &v, 1); }
  if (s->tuned == -2 && !transient) ltTune(c, s, y, out, f32Out, x, in, w[0], bias, rows, in, out);
  int tuned = s->tuned >= -1 ? s->tuned : 0;
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  double res[6];
  int st = 0;
  int picks[3] = {-1, 0, tuned};
  for (int k = 0; k < 3; k++) {
    for (int i = -2; i < iters; i++) {
      if (i == 0) cudaEventRecord(e0, c->stream);
      st |= runPick(c, s, picks[k], y, out, f32Out, x, in, w[(i + 2) % copies], bias, rows, in, out);
    }
    cudaEventRecord(e1, c->stream);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    res[k] = ms * 1000.0 / iters;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  res[3] = tuned;
  res[4] = (double)s->candidates.size();
  res[5] = s->tunedMicros;
  g_described = ltDescribe(c, s, tuned);
  if (transient) ltFreeShape(c->lt, s);
  if (!ok(env, cudaStreamSynchronize(c->stream), "cuBLASLt timing")) return nullptr;
  if (st != 0) { double v = -3; return doubles(env, &v, 1); }
  return doubles(env, res, 6);
}

/** The tuned choice of the shape `times` measured last, in words ("algo 66 tile 18 splitK 4 reduction 2"). */
JNI_T(jstring, describeLast)(JNIEnv* env, jclass) { return env->NewStringUTF(g_described.c_str()); }

// ---- FP8 × FP8 (gemm_fp8_lt.cu) ----

namespace {

/** Scales x's (row, 128-column block) blocks by 2^((7·row + 3·block) % 13 − 6), block (0, 1) to 0: per-block range. */
__global__ void spreadK(bf16* x, int rows, int in) {
  size_t n = (size_t)rows * in;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    int r = (int)(i / in), b = (int)(i % in) / 128;
    float f = r == 0 && b == 1 ? 0.f : exp2f((float)((7 * r + 3 * b) % 13 - 6));
    x[i] = tobf(bf(x[i]) * f);
  }
}

/**
 * The activation quantization recomputed one thread per (row, block), sequentially (the rule of quantActK: amax,
 * scale = amax / 448 or 1, q = e4m3(x / scale) saturated): count[0] += codes or scales that differ from xq / xs.
 */
__global__ void quantRefK(const bf16* x, int rows, int in, const uint8_t* xq, const float* xs, double* count) {
  int blocks = in / 128;
  long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= (long long)rows * blocks) return;
  int r = (int)(g / blocks), b = (int)(g % blocks);
  const bf16* src = x + (size_t)r * in + b * 128;
  float m = 0.f;
  for (int i = 0; i < 128; i++) m = fmaxf(m, fabsf(bf(src[i])));
  float scale = m == 0.f ? 1.f : __fdiv_rn(m, 448.f);
  double bad = xs[(size_t)b * rows + r] != scale ? 1 : 0;
  for (int i = 0; i < 128; i++) {
    uint8_t q = __nv_cvt_float_to_fp8(__fdiv_rn(bf(src[i]), scale), __NV_SATFINITE, __NV_E4M3);
    bad += q != xq[(size_t)r * in + b * 128 + i] ? 1 : 0;
  }
  if (bad != 0) atomicAdd(count, bad);
}

__device__ __forceinline__ double e4m3(uint8_t q) {
  return (double)__half2float(__half(__nv_cvt_fp8_to_halfraw(q, __NV_E4M3)));
}

/**
 * An fp64 reference at sampled outputs (sample t: row (t % sRows) · rows / sRows, then the last row, column
 * (t / sRows) · 97 % out): exact = Σ_k dq(xq)·dq(W) (+ bias) for the `main` rows the FP8 × FP8 GEMM takes, and
 * Σ_k x·dq(W) (+ bias) for the rows after them (the tensor-core FP8 GEMM, bf16 x, W rounded to bf16: 2^-8·Σ|terms|
 * more); unq = Σ_k x·dq(W) (+ bias). stats: [0] Σ(y − exact)², [1] Σexact², [2] Σ(y − unq)², [3] Σunq², [4] outputs
 * with |y − exact| > 2^-8·(|y| + |exact|) + 2^-12·Σ|terms| (NaN counts), [5] max of that ratio (as float bits).
 */
__global__ void fp8RefK(const bf16* y, const bf16* x, const uint8_t* xq, const float* xs, const uint8_t* wq,
                        const float* ws, int sld, const bf16* bias, int rows, int main, int in, int out, int sRows,
                        int samples, double* stats) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= samples) return;
  int i = t % sRows;
  int r = i == sRows - 1 ? rows - 1 : (int)((long long)i * rows / sRows);
  int o = (int)(((long long)(t / sRows) * 97) % out);
  bool quantized = r < main;
  double exact = 0, unq = 0, mag = 0;
  for (int k = 0; k < in; k++) {
    double w = e4m3(wq[(size_t)o * in + k]) * ws[(size_t)(o >> 7) * sld + (k >> 7)];
    double xf = bf(x[(size_t)r * in + k]);
    double a = quantized ? e4m3(xq[(size_t)r * in + k]) * xs[(size_t)(k >> 7) * main + r] : xf;
    exact += a * w;
    unq += xf * w;
    mag += fabs(a * w) * (quantized ? 1 : 17);  // 2^-12 · 17 > 2^-8 + 2^-12: the bf16 rounding of W
  }
  if (bias) {
    exact += bf(bias[o]);
    unq += bf(bias[o]);
  }
  double g = bf(y[(size_t)r * out + o]);
  double d = fabs(g - exact);
  double ratio = d / (0.00390625 * (fabs(g) + fabs(exact)) + mag / 4096 + 1e-30);
  atomicAdd(&stats[0], d * d);
  atomicAdd(&stats[1], exact * exact);
  atomicAdd(&stats[2], (g - unq) * (g - unq));
  atomicAdd(&stats[3], unq * unq);
  if (!(ratio <= 1)) atomicAdd(&stats[4], 1.0);
  atomicMax((unsigned int*)&stats[5], __float_as_uint(ratio != ratio ? INFINITY : (float)ratio));
}

/** An FP8 copy of a random bf16 W (out, in): codes at q, 128×128 scales at s with cuBLASLt's pitch; false on OOM. */
bool fp8Weight(Context* c, Buffers& m, int out, int in, unsigned long long seed, uint8_t** q, float** s, int* sld) {
  int ob = (out + 127) / 128, kb = (in + 127) / 128;
  *sld = (kb + 3) / 4 * 4;
  bf16* w = m.random((size_t)out * in, seed, 0.05f);
  *q = m.get<uint8_t>((size_t)out * in);
  float* s0 = m.get<float>((size_t)ob * kb * 4);
  *s = m.get<float>((size_t)ob * *sld * 4);
  if (!w || !*q || !s0 || !*s) return false;
  launchQuantizeFp8(c->stream, *q, s0, w, out, in, 128, 128);
  cudaMemcpy2DAsync(*s, (size_t)*sld * 4, s0, (size_t)kb * 4, (size_t)kb * 4, ob, cudaMemcpyDeviceToDevice, c->stream);
  return true;
}

}  // namespace

/**
 * The FP8 × FP8 path on random data (W quantized to 128×128 blocks, x spread over 2^-6..2^6 per block with one zero
 * block): {outputs outside the elementwise bound of the fp64 reference on the device's own quantized x and W, the
 * worst |Δ| / bound, rel Frobenius against it, rel against the fp64 product with x unquantized (the activation
 * quantization's own error), codes and scales differing from a sequential recomputation of the quantization,
 * elements differing bit for bit between two runs, samples}. {-1}: the path does not take the shape (no cuBLASLt, no
 * algorithm); {-2}: out of memory.
 */
JNI_T(jdoubleArray, fp8Check)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint out, jboolean withBias,
                              jlong seed) {
  Context* c = ctx(h);
  Buffers m(c->stream);
  uint8_t* wq;
  float* ws;
  int sld;
  bool fine = fp8Weight(c, m, out, in, seed, &wq, &ws, &sld);
  bf16* x = m.random((size_t)rows * in, seed + 1, 2.f);
  bf16* bias = withBias ? m.random(out, seed + 2, 1.f) : nullptr;
  size_t sb = fp8ActScratchBytes(rows, in);
  void* scratch = m.get<void>(sb);
  bf16 *y = m.get<bf16>((size_t)rows * out * 2), *y2 = m.get<bf16>((size_t)rows * out * 2);
  double* stats = m.get<double>(8 * sizeof(double));
  if (!fine || !x || (withBias && !bias) || !scratch || !y || !y2 || !stats) { double v = -2; return doubles(env, &v, 1); }
  if (in >= 256) spreadK<<<512, 256, 0, c->stream>>>(x, rows, in);
  Fp8Mat w{wq, ws, sld, 7, 7};
  if (!fp8LtRun(c, y, out, x, in, w, bias, rows, in, out, scratch, sb) ||
      !fp8LtRun(c, y2, out, x, in, w, bias, rows, in, out, scratch, sb)) {
    double v = -1;
    return doubles(env, &v, 1);
  }
  int main = rows & ~3;  // fp8LtRun's split: the rows after take the tensor-core FP8 GEMM
  const uint8_t* xq = (const uint8_t*)scratch;
  const float* xs = (const float*)((const char*)scratch + ((size_t)main * in + 255) / 256 * 256);
  cudaMemsetAsync(stats, 0, 8 * sizeof(double), c->stream);
  long long groups = (long long)main * (in / 128);
  quantRefK<<<(unsigned)((groups + 127) / 128), 128, 0, c->stream>>>(x, main, in, xq, xs, &stats[6]);
  differK<<<512, 256, 0, c->stream>>>((const unsigned short*)y, (const unsigned short*)y2, (size_t)rows * out,
                                      &stats[7]);
  int sRows = rows < 64 ? rows : 64, samples = sRows * (out < 256 ? out : 256);
  fp8RefK<<<(samples + 127) / 128, 128, 0, c->stream>>>(y, x, xq, xs, wq, ws, sld, bias, rows, main, in, out,
                                                        sRows, samples, stats);
  double host[8];
  cudaMemcpyAsync(host, stats, sizeof host, cudaMemcpyDeviceToHost, c->stream);
  if (!ok(env, cudaStreamSynchronize(c->stream), "FP8 x FP8 self-check")) return nullptr;
  unsigned int bits;
  float worst;
  memcpy(&bits, &host[5], 4);
  memcpy(&worst, &bits, 4);
  double res[7] = {host[4], worst, sqrt(host[0] / host[1]), sqrt(host[2] / host[3]), host[6], host[7],
                   (double)samples};
  return doubles(env, res, 7);
}

/**
 * GPU µs per call of y (rows, out) = x·Wᵀ, `iters` calls after two warm-ups over weight copies cycled past L2: {the
 * FP8 × FP8 path (quantization + cuBLASLt), the activation quantization alone, the tensor-core FP8 GEMM (-1: does
 * not apply), dequantization + cublasGemmEx, cublasGemmEx on a bf16 W}. {-1}: the FP8 × FP8 path does not take the
 * shape; {-2}: out of memory.
 */
JNI_T(jdoubleArray, fp8Times)(JNIEnv* env, jclass, jlong h, jint rows, jint in, jint out, jint iters) {
  Context* c = ctx(h);
  Buffers m(c->stream);
  size_t elems = (size_t)out * in;
  int copies = (int)std::min<size_t>(8, std::max<size_t>(1, ((size_t)192 << 20) / elems + 1));
  int bfCopies = (int)std::min<size_t>(8, std::max<size_t>(1, ((size_t)192 << 20) / (2 * elems) + 1));
  std::vector<Fp8Mat> w(copies);
  std::vector<bf16*> wb(bfCopies);
  bool fine = true;
  for (int i = 0; i < copies; i++) {
    uint8_t* q;
    float* s;
    int sld;
    fine = fine && fp8Weight(c, m, out, in, 21 + i, &q, &s, &sld);
    if (fine) w[i] = Fp8Mat{q, s, sld, 7, 7};
  }
  for (int i = 0; i < bfCopies; i++) {
    wb[i] = m.random(elems, 41 + i, 0.05f);
    fine = fine && wb[i];
  }
  bf16* x = m.random((size_t)rows * in, 3, 2.f);
  size_t sb = std::max(fp8ActScratchBytes(rows, in), 2 * elems);
  void* scratch = m.get<void>(sb);
  bf16* y = m.get<bf16>((size_t)rows * out * 2);
  if (!fine || !x || !scratch || !y) { double v = -2; return doubles(env, &v, 1); }
  if (!fp8LtRun(c, y, out, x, in, w[0], nullptr, rows, in, out, scratch, sb)) { double v = -1; return doubles(env, &v, 1); }
  float* xs = (float*)((char*)scratch + ((size_t)rows * in + 255) / 256 * 256);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  double res[5];
  for (int k = 0; k < 5; k++) {
    bool ran = true;
    for (int i = -2; i < iters && ran; i++) {
      if (i == 0) cudaEventRecord(e0, c->stream);
      const Fp8Mat& f = w[(i + 2) % copies];
      switch (k) {
        case 0: fp8LtRun(c, y, out, x, in, f, nullptr, rows, in, out, scratch, sb); break;
        case 1: launchQuantizeAct(c->stream, (uint8_t*)scratch, xs, x, in, rows, in); break;
        case 2: ran = launchGemmFp8(c->stream, y, out, x, in, f, nullptr, rows, in, out); break;
        case 3:
          launchDequantFp8(c->stream, (bf16*)scratch, f, out, in);
          gemmExRun(c, y, out, false, x, in, scratch, nullptr, rows, in, out);
          break;
        default: gemmExRun(c, y, out, false, x, in, wb[(i + 2) % bfCopies], nullptr, rows, in, out);
      }
    }
    cudaEventRecord(e1, c->stream);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    res[k] = ran ? ms * 1000.0 / iters : -1;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (!ok(env, cudaStreamSynchronize(c->stream), "FP8 x FP8 timing")) return nullptr;
  return doubles(env, res, 5);
}

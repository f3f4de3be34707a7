// The cuBLASLt GEMM path's self-check and timings (JNI class io.autoglm.cuda.CudaGemmTests in the bench jar), on
// random data filled on the device: Lt with the heuristic's first algorithm and with the tuned choice against
// cublasGemmEx (+ the bias added in fp32), and GPU µs of each over weight copies cycled so that W comes from HBM.
#include "bridge.cuh"
#include "common.cuh"

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

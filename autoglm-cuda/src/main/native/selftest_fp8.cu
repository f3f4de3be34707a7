// Self-tests of the FP8 kernels (JNI class io.autoglm.cuda.CudaSelfTests, like selftest.cu): quantization against the
// same rule computed on the host, the FP8 GEMVs against a double-precision reference on the dequantized weights and
// against the bf16 kernels on the bf16-dequantized weights, the fused FP8 GEMVs against the unfused ones bit for bit.
#include "bridge.cuh"
#include "selftest.cuh"
#include <cuda_fp8.h>
#include <cuda_fp16.h>

#undef JNI
#define JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cuda_CudaSelfTests_##name

namespace {

/** The self-check buffers (selftest.cuh), plus the FP8 checks' weight patterns. */
struct Mem : selftest::Scratch {
  using selftest::Scratch::Scratch;
  /** n bf16 uniform in [-scale/2, scale/2); every 7th (128-wide) column block of a row scaled by 1/64, so blocks
   *  differ in range; the first 128×128 block all zero when zeroBlock (the amax = 0 rule). */
  std::vector<uint16_t> weights(int rows, int cols, float scale, bool zeroBlock) {
    std::vector<uint16_t> h((size_t)rows * cols);
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        float v = next() * scale * ((c / 128) % 7 == 3 ? 1.f / 64 : 1.f);
        if (zeroBlock && r < 128 && c < 128) v = 0.f;
        h[(size_t)r * cols + c] = f32ToBf16(v);
      }
    }
    return h;
  }
  std::vector<uint16_t> randomBf16(size_t n, float scale) {
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; i++) h[i] = f32ToBf16(next() * scale);
    return h;
  }
};

inline float bfToF(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, 4);
  return f;
}

inline float e4m3ToF(uint8_t q) { return __half2float(__half(__nv_cvt_fp8_to_halfraw(q, __NV_E4M3))); }

/** The quantization rule on the host (docs/fp8.md "CUDA"): per (br, bc) block, scale = amax / 448 (1 if 0). */
void quantizeHost(const std::vector<uint16_t>& w, int rows, int cols, int br, int bc, std::vector<uint8_t>& q,
                  std::vector<float>& s) {
  int sr = (rows + br - 1) / br, sc = (cols + bc - 1) / bc;
  q.assign((size_t)rows * cols, 0);
  s.assign((size_t)sr * sc, 0.f);
  for (int i = 0; i < sr; i++) {
    for (int j = 0; j < sc; j++) {
      float amax = 0.f;
      for (int r = i * br; r < std::min(rows, (i + 1) * br); r++)
        for (int c = j * bc; c < std::min(cols, (j + 1) * bc); c++) amax = std::max(amax, std::fabs(bfToF(w[(size_t)r * cols + c])));
      float scale = amax == 0.f ? 1.f : amax / 448.f;
      s[(size_t)i * sc + j] = scale;
      for (int r = i * br; r < std::min(rows, (i + 1) * br); r++)
        for (int c = j * bc; c < std::min(cols, (j + 1) * bc); c++)
          q[(size_t)r * cols + c] = __nv_cvt_float_to_fp8(bfToF(w[(size_t)r * cols + c]) / scale, __NV_SATFINITE, __NV_E4M3);
    }
  }
}

/** An FP8 weight quantized on the device, with its host copies (128×128 blocks). */
struct QW {
  uint8_t* q = nullptr;
  float* s = nullptr;
  std::vector<uint8_t> hq;
  std::vector<float> hs;
  int rows, cols, sld;
  Fp8Mat mat() const { return Fp8Mat{q, s, sld, 7, 7}; }
  /** The dequantized weight W[r][c] in fp32 (exact: e4m3 · scale in fp32, as the GEMV kernels compute it). */
  float at(int r, int c) const { return e4m3ToF(hq[(size_t)r * cols + c]) * hs[(size_t)(r >> 7) * sld + (c >> 7)]; }
};

bool quantized(Mem& m, cudaStream_t st, QW& w, int rows, int cols, float scale) {
  std::vector<uint16_t> hw = m.weights(rows, cols, scale, false);
  bf16* dw = (bf16*)m.upload(hw);
  w.rows = rows;
  w.cols = cols;
  w.sld = (cols + 127) / 128;
  size_t ns = (size_t)((rows + 127) / 128) * w.sld;
  w.q = (uint8_t*)m.zeros((size_t)rows * cols);
  w.s = (float*)m.zeros(ns * 4);
  if (!dw || !w.q || !w.s) return false;
  launchQuantizeFp8(st, w.q, w.s, dw, rows, cols, 128, 128);
  if (cudaStreamSynchronize(st) != cudaSuccess) return false;
  w.hq.resize((size_t)rows * cols);
  w.hs.resize(ns);
  cudaMemcpy(w.hq.data(), w.q, w.hq.size(), cudaMemcpyDeviceToHost);
  cudaMemcpy(w.hs.data(), w.s, ns * 4, cudaMemcpyDeviceToHost);
  return true;
}

std::vector<uint16_t> download16(const void* d, size_t n) {
  std::vector<uint16_t> h(n);
  cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost);
  return h;
}

long long differing16(const void* a, const void* b, size_t n) {
  std::vector<uint16_t> x = download16(a, n), y = download16(b, n);
  long long d = 0;
  for (size_t i = 0; i < n; i++) d += x[i] != y[i];
  return d;
}

/**
 * Against a double-precision reference y = x · Wᵀ (+ bias) on the dequantized weights, outputs y1 and y2 (bf16,
 * (rows, out)): {outside the bound for y1, max |Δ1| / bound, outside for y2, max |Δ2| / bound}; bound per element
 * 2^-8·|ref| + wTol·Σ|w·x| (the bf16 rounding of the output, plus wTol for a rounding of the weights).
 */
void againstReference(const QW& w, const std::vector<uint16_t>& x, const std::vector<uint16_t>* bias, int rows,
                      const void* y1, const void* y2, double wTol, double* r) {
  std::vector<uint16_t> a = download16(y1, (size_t)rows * w.rows), b;
  if (y2 != nullptr) b = download16(y2, (size_t)rows * w.rows);
  r[0] = r[1] = r[2] = r[3] = 0;
  std::vector<float> wr(w.cols);
  for (int o = 0; o < w.rows; o++) {
    for (int c = 0; c < w.cols; c++) wr[c] = w.at(o, c);
    for (int t = 0; t < rows; t++) {
      double ref = bias ? bfToF((*bias)[o]) : 0, mag = 0;
      for (int c = 0; c < w.cols; c++) {
        double p = (double)wr[c] * bfToF(x[(size_t)t * w.cols + c]);
        ref += p;
        mag += std::fabs(p);
      }
      double bound = std::ldexp(std::fabs(ref), -8) + wTol * mag + 1e-30;
      double d1 = std::fabs(bfToF(a[(size_t)t * w.rows + o]) - ref) / bound;
      r[0] += d1 > 1;
      r[1] = std::max(r[1], d1);
      if (y2 != nullptr) {
        double d2 = std::fabs(bfToF(b[(size_t)t * w.rows + o]) - ref) / bound;
        r[2] += d2 > 1;
        r[3] = std::max(r[3], d2);
      }
    }
  }
}

/** q[i] = a finite e4m3 code from a hash of (seed, i) (never NaN: magnitude bits below 0x7f). */
__global__ void fillCodesK(uint8_t* q, size_t n, unsigned long long seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    unsigned long long z = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 29;
    q[i] = (uint8_t)((z >> 40) % 0x7f) | (uint8_t)((z >> 20) & 0x80);
  }
}

jdoubleArray result(JNIEnv* env, std::initializer_list<double> v) {
  std::vector<double> d(v);
  jdoubleArray out = env->NewDoubleArray((jsize)d.size());
  env->SetDoubleArrayRegion(out, 0, (jsize)d.size(), d.data());
  return out;
}

/**
 * Kind 7: the GEMV's e4m3 decoding and column order, exactly. Weight (out, in) with every code but NaN along each
 * column (code (7r + c) mod 256), power-of-two scales per 128×128 block; x rows one-hot at columns c_t, pass after
 * pass until every column was hit: each output must equal e4m3(q[r][c_t]) · scale bit for bit (exact in bf16).
 * {outputs that differ, outputs compared}.
 */
jdoubleArray decodeCheck(JNIEnv* env, Mem& m, cudaStream_t st, int rows, int in, int out) {
  int sld = (in + 127) / 128, srows = (out + 127) / 128;
  std::vector<uint8_t> hq((size_t)out * in);
  for (int r = 0; r < out; r++)
    for (int c = 0; c < in; c++) {
      int code = (7 * r + c) & 0xff;
      hq[(size_t)r * in + c] = (code & 0x7f) == 0x7f ? 0 : (uint8_t)code;
    }
  std::vector<float> hs((size_t)srows * sld);
  for (size_t i = 0; i < hs.size(); i++) hs[i] = std::ldexp(1.f, (int)(i % 5) - 2);
  uint8_t* q = m.upload(hq);
  float* sc = m.upload(hs);
  bf16* x = (bf16*)m.zeros((size_t)rows * in * 2);
  bf16* y = (bf16*)m.zeros((size_t)rows * out * 2);
  if (!q || !sc || !x || !y) return result(env, {-2});
  Fp8Mat w{q, sc, sld, 7, 7};
  double differ = 0, compared = 0;
  for (int first = 0; first < in; first += rows) {
    std::vector<uint16_t> hx((size_t)rows * in, 0);
    for (int t = 0; t < rows; t++) hx[(size_t)t * in + (first + t) % in] = 0x3f80;  // 1.0
    cudaMemcpyAsync(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice, st);  // pageable: staged before return
    if (!launchGemvFp8(st, y, out, false, x, in, w, nullptr, rows, in, out)) return result(env, {-1});
    if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 decode")) return nullptr;
    std::vector<uint16_t> gy = download16(y, (size_t)rows * out);
    for (int t = 0; t < rows; t++) {
      int c = (first + t) % in;
      for (int r = 0; r < out; r++) {
        float want = e4m3ToF(hq[(size_t)r * in + c]) * hs[(size_t)(r >> 7) * sld + (c >> 7)];
        differ += bfToF(gy[(size_t)t * out + r]) != want;
        compared++;
      }
    }
  }
  return result(env, {differ, compared});
}

}  // namespace

/**
 * The FP8 kernels on random data (128×128 blocks). kind 0, quantization of (out, in): {bytes that differ from the
 * host's rule, scales that differ (bitwise), blocks}. kind 1, GEMV (rows <= 8) + bias: {outside the reference bound,
 * max |Δ|/bound, the bf16 GEMV on bf16-dequantized weights: outside, max |Δ|/bound; outputs that differ between block
 * scales and the same scales expanded per row (rowShift 0); outputs that differ between two runs with block scales}
 * (both must be 0: the kernel's in-split depends on the shape only, never on the scale layout). kind 2, the cuBLAS path
 * (dequantize + GEMM, any rows): {outside, max |Δ|/bound} with a bound that allows the weights' bf16 rounding. kind 3,
 * gate_up + SiLU·mul (out = inter) against the FP8 GEMV then siluMul: {differing outputs, or -1 when declined}. kind 4,
 * QKV + RoPE + KV write (out = query heads of 128 over 2 KV heads) against the FP8 GEMV then ropeQkv: {differing}. kind
 * 5, grouped expert GEMV over 8 experts (rows = pairs in runs of 1, 2, 3, ...) against the reference: {outside, max
 * |Δ|/bound}. kind 6, the tensor-core FP8 GEMM (any rows) + bias against the reference, with kind 2's bound: {outside,
 * max}. kind 7, decoding and column order exactly (decodeCheck). {-2} when device memory ran out.
 */
JNI(jdoubleArray, selfTestFp8)(JNIEnv* env, jclass, jlong h, jint kind, jint rows, jint in, jint out, jlong seed) {
  Context* c = ctx(h);
  cudaStream_t st = c->stream;
  Mem m(seed, st);
  if (kind == 0) {
    std::vector<uint16_t> hw = m.weights(out, in, 2.f, true);
    std::vector<uint8_t> q;
    std::vector<float> s;
    quantizeHost(hw, out, in, 128, 128, q, s);
    bf16* dw = (bf16*)m.upload(hw);
    uint8_t* dq = (uint8_t*)m.zeros(q.size());
    float* ds = (float*)m.zeros(s.size() * 4);
    if (!dw || !dq || !ds) return result(env, {-2});
    launchQuantizeFp8(st, dq, ds, dw, out, in, 128, 128);
    if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 quantize")) return nullptr;
    std::vector<uint8_t> gq(q.size());
    std::vector<float> gs(s.size());
    cudaMemcpy(gq.data(), dq, q.size(), cudaMemcpyDeviceToHost);
    cudaMemcpy(gs.data(), ds, s.size() * 4, cudaMemcpyDeviceToHost);
    double dbytes = 0, dscales = 0;
    for (size_t i = 0; i < q.size(); i++) dbytes += q[i] != gq[i];
    for (size_t i = 0; i < s.size(); i++) dscales += memcmp(&s[i], &gs[i], 4) != 0;
    return result(env, {dbytes, dscales, (double)s.size()});
  }
  if (kind == 7) return decodeCheck(env, m, st, rows, in, out);
  int wRows = kind == 3 ? 2 * out : kind == 4 ? (out + 4) * 128 : out;
  QW w;
  if (!quantized(m, st, w, wRows, in, 0.1f)) return result(env, {-2});
  std::vector<uint16_t> hx = m.randomBf16((size_t)rows * in, 2.f);
  bf16* x = (bf16*)m.upload(hx);
  if (!x) return result(env, {-2});
  if (kind == 1 || kind == 2 || kind == 6) {
    std::vector<uint16_t> hb = m.randomBf16(out, 0.5f);
    bf16* bias = (bf16*)m.upload(hb);
    bf16* y1 = (bf16*)m.zeros((size_t)rows * out * 2);
    bf16* y2 = (bf16*)m.zeros((size_t)rows * out * 2);
    bf16* deq = (bf16*)m.zeros((size_t)out * in * 2);
    if (!bias || !y1 || !y2 || !deq) return result(env, {-2});
    launchDequantFp8(st, deq, w.mat(), out, in);
    double r[4];
    if (kind == 2 || kind == 6) {
      if (kind == 2 && !gemmBf16(env, c, y1, out, false, x, in, deq, bias, rows, in, out)) return nullptr;
      if (kind == 6 && !launchGemmFp8(st, y1, out, x, in, w.mat(), bias, rows, in, out)) return result(env, {-1});
      if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 cuBLAS / mma path")) return nullptr;
      againstReference(w, hx, &hb, rows, y1, nullptr, std::ldexp(1.0, -8), r);
      return result(env, {r[0], r[1]});
    }
    if (!launchGemvFp8(st, y1, out, false, x, in, w.mat(), bias, rows, in, out)) return result(env, {-1});
    launchGemv(st, y2, out, false, x, in, deq, bias, rows, in, out);
    // the same scales expanded to one row each (rowShift 0): must give the same outputs bit for bit
    std::vector<float> perRow((size_t)out * w.sld);
    for (int o = 0; o < out; o++)
      for (int j = 0; j < w.sld; j++) perRow[(size_t)o * w.sld + j] = w.hs[(size_t)(o >> 7) * w.sld + j];
    float* dpr = m.upload(perRow);
    bf16* y3 = (bf16*)m.zeros((size_t)rows * out * 2);
    if (!dpr || !y3) return result(env, {-2});
    launchGemvFp8(st, y3, out, false, x, in, Fp8Mat{w.q, dpr, w.sld, 0, 7}, bias, rows, in, out);
    // and the block scales once more: a rerun must repeat itself bit for bit (the split depends on the shape only)
    bf16* y4 = (bf16*)m.zeros((size_t)rows * out * 2);
    if (!y4) return result(env, {-2});
    launchGemvFp8(st, y4, out, false, x, in, w.mat(), bias, rows, in, out);
    if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 GEMV")) return nullptr;
    againstReference(w, hx, &hb, rows, y1, y2, 1e-5, r);
    return result(env, {r[0], r[1], r[2], r[3], (double)differing16(y1, y3, (size_t)rows * out),
                        (double)differing16(y1, y4, (size_t)rows * out)});
  }
  if (kind == 3) {
    int inter = out;
    bf16* gu = (bf16*)m.zeros((size_t)rows * 2 * inter * 2);
    bf16* y1 = (bf16*)m.zeros((size_t)rows * inter * 2);
    bf16* y2 = (bf16*)m.zeros((size_t)rows * inter * 2);
    if (!gu || !y1 || !y2) return result(env, {-2});
    if (!launchGemvSiluFp8(st, y1, x, in, w.mat(), rows, in, inter)) return result(env, {-1});
    launchGemvFp8(st, gu, 2 * inter, false, x, in, w.mat(), nullptr, rows, in, 2 * inter);
    launchSiluMul(st, y2, gu, 2 * inter, rows, inter);
    if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 gemvSilu")) return nullptr;
    return result(env, {(double)differing16(y1, y2, (size_t)rows * inter)});
  }
  if (kind == 4) {
    int heads = out, kvHeads = 2, headDim = 128, rot = 64, slotsTotal = 128;
    int qW = heads * headDim, kvW = kvHeads * headDim, n = qW + 2 * kvW;
    std::vector<uint16_t> hb = m.randomBf16(n, 0.5f);
    bf16* bias = (bf16*)m.upload(hb);
    bf16* qkv = (bf16*)m.zeros((size_t)rows * n * 2);
    bf16* q1 = (bf16*)m.zeros((size_t)rows * qW * 2);
    bf16* q2 = (bf16*)m.zeros((size_t)rows * qW * 2);
    bf16* kc1 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* vc1 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* kc2 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    bf16* vc2 = (bf16*)m.zeros((size_t)slotsTotal * kvW * 2);
    std::vector<int> slots, pos;
    for (int t = 0; t < rows; t++) {
      slots.push_back(3 + 13 * t);
      pos.push_back(7 + 1021 * t);
    }
    std::vector<float> invHost(rot / 2);
    for (int i = 0; i < rot / 2; i++) invHost[i] = 1.f / powf(10000.f, 2.f * i / rot);
    int* ds = m.upload(slots);
    int* dp = m.upload(pos);
    float* di = m.upload(invHost);
    if (!bias || !qkv || !q1 || !q2 || !kc1 || !vc1 || !kc2 || !vc2 || !ds || !dp || !di) return result(env, {-2});
    if (!launchGemvQkvRopeFp8(st, q1, x, in, w.mat(), bias, rows, in, kc1, vc1, ds, dp, di, heads, kvHeads, headDim,
                              rot)) {
      return result(env, {-1});
    }
    launchGemvFp8(st, qkv, n, false, x, in, w.mat(), bias, rows, in, n);
    launchRopeQkv(st, q2, qkv, n, qkv + qW, n, qkv + qW + kvW, n, kc2, vc2, ds, dp, di, rows, heads, kvHeads, headDim,
                  rot, true);
    if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 qkv+rope")) return nullptr;
    return result(env, {(double)(differing16(q1, q2, (size_t)rows * qW) + differing16(kc1, kc2, (size_t)slotsTotal * kvW) +
                                 differing16(vc1, vc2, (size_t)slotsTotal * kvW))});
  }
  // kind 5: grouped expert GEMV; the experts are 8 copies' worth of rows of one quantized (8·out, in) matrix
  const int experts = 8;
  QW all;
  if (!quantized(m, st, all, experts * out, in, 0.1f)) return result(env, {-2});
  std::vector<int> ids, offsets{0};
  for (int g = 0, at = 0; at < rows; g++) {
    int n = std::min(g + 1, rows - at);
    ids.push_back((g * 5 + 1) % experts);
    at += n;
    offsets.push_back(at);
  }
  int* dIds = m.upload(ids);
  int* dOff = m.upload(offsets);
  bf16* y = (bf16*)m.zeros((size_t)rows * out * 2);
  // per-expert scale blocks: expert e's (out, in) rows are rows e·out.. of `all`; out % 128 == 0 keeps its blocks
  if (!dIds || !dOff || !y || out % 128 != 0) return result(env, {-2});
  long long sStride = (long long)(out / 128) * all.sld;
  if (!launchGroupedGemvFp8(st, y, x, all.mat(), sStride, dIds, dOff, (int)ids.size(), in, out)) return result(env, {-1});
  if (!ok(env, cudaStreamSynchronize(st), "selfTestFp8 grouped")) return nullptr;
  std::vector<uint16_t> gy = download16(y, (size_t)rows * out);
  double outside = 0, worst = 0;
  for (size_t g = 0; g < ids.size(); g++) {
    for (int t = offsets[g]; t < offsets[g + 1]; t++) {
      for (int o = 0; o < out; o++) {
        double ref = 0, mag = 0;
        for (int k = 0; k < in; k++) {
          double p = (double)all.at(ids[g] * out + o, k) * bfToF(hx[(size_t)t * in + k]);
          ref += p;
          mag += std::fabs(p);
        }
        double d = std::fabs(bfToF(gy[(size_t)t * out + o]) - ref) / (std::ldexp(std::fabs(ref), -8) + 1e-5 * mag + 1e-30);
        outside += d > 1;
        worst = std::max(worst, d);
      }
    }
  }
  return result(env, {outside, worst});
}

/**
 * GPU µs per launch of the FP8 GEMV in use (g_kernels.fp8GemvTc) on `rows` rows: mode 0 plain + bias (bf16 out),
 * 1 gate_up + SiLU·mul (the (out, in) weight holds gate and up: inter = out / 2), 2 plain with fp32 out; `iters`
 * launches after a warm-up, cycling through weight copies (128×128 blocks) that do not stay in L2. -1: declined;
 * -2: out of memory.
 */
JNI(jdouble, timeGemvFp8)(JNIEnv* env, jclass, jlong h, jint mode, jint rows, jint in, jint out, jint iters) {
  Context* c = ctx(h);
  cudaStream_t st = c->stream;
  Mem m(5, st);
  size_t wn = (size_t)out * in;
  int copies = (int)std::min<size_t>(16, std::max<size_t>(2, ((size_t)512 << 20) / wn));
  int sld = (in + 127) / 128;
  std::vector<float> hs((size_t)((out + 127) / 128) * sld, 1.f / 448);
  std::vector<Fp8Mat> ws;
  for (int i = 0; i < copies; i++) {
    uint8_t* q = (uint8_t*)m.zeros(wn);
    float* sc = m.upload(hs);
    if (!q || !sc) return -2;
    launchK(false, fillCodesK, 1024, 256, st, q, wn, 17ull + i);
    ws.push_back(Fp8Mat{q, sc, sld, 7, 7});
  }
  std::vector<uint16_t> hx = m.randomBf16((size_t)rows * in, 2.f), hb = m.randomBf16(out, 0.5f);
  bf16* x = (bf16*)m.upload(hx);
  bf16* bias = (bf16*)m.upload(hb);
  void* y = m.zeros((size_t)rows * out * 4);
  if (!x || !bias || !y) return -2;
  auto one = [&](int i) -> bool {
    const Fp8Mat& w = ws[i % copies];
    if (mode == 1) return launchGemvSiluFp8(st, (bf16*)y, x, in, w, rows, in, out / 2);
    return launchGemvFp8(st, y, out, mode == 2, x, in, w, mode == 0 ? bias : nullptr, rows, in, out);
  };
  return selftest::microsPerCall(env, st, iters, one, "timeGemvFp8");
}

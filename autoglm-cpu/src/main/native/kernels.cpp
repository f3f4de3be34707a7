// The GEMV/GEMM kernels of one dispatch level. build.sh compiles this file three times: -DAGC_LEVEL=2 with
// AVX-512 (F, BW, VL, BF16, VNNI), -DAGC_LEVEL=1 with AVX2 + FMA + F16C, -DAGC_LEVEL=0 with the target's baseline
// (any x86-64, or aarch64). Each compile defines one kernels_<level>() table.
//
// Blocking: outputs in quads of weight rows (NR = 4) × activation rows in quads (MR = 4); K in K_CHUNK pieces whose
// partial sums are added in order, so one output's arithmetic is the same for any M (the row count changes only
// which quads run, not the order inside one (m, n) dot).
#include "common.h"

#if AGC_LEVEL >= 1
#include <immintrin.h>
#endif

namespace agc {
namespace {

#if AGC_LEVEL >= 1
inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
#else
inline float h2f(uint16_t h) { return f16_to_f32(h); }
#endif

// ---- one (MR × NR) block of dots over [k0, k1), fp32 activations ----------------------------------------------

#if AGC_LEVEL == 2
inline __m512 load_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
}
inline __m512 load_bf16_tail(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <int MR, int NR>
void block_bf16(const float* const* x, const uint16_t* const* w, int64_t k0, int64_t k1, float out[4][4]) {
  __m512 acc[MR][NR];
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) acc[m][n] = _mm512_setzero_ps();
  int64_t k = k0;
  for (; k + 16 <= k1; k += 16) {
    __m512 wv[NR];
    for (int n = 0; n < NR; n++) wv[n] = load_bf16(w[n] + k);
    for (int m = 0; m < MR; m++) {
      __m512 xv = _mm512_loadu_ps(x[m] + k);
      for (int n = 0; n < NR; n++) acc[m][n] = _mm512_fmadd_ps(xv, wv[n], acc[m][n]);
    }
  }
  if (k < k1) {
    __mmask16 mask = (__mmask16)((1u << (k1 - k)) - 1);
    __m512 wv[NR];
    for (int n = 0; n < NR; n++) wv[n] = load_bf16_tail(w[n] + k, mask);
    for (int m = 0; m < MR; m++) {
      __m512 xv = _mm512_maskz_loadu_ps(mask, x[m] + k);
      for (int n = 0; n < NR; n++) acc[m][n] = _mm512_fmadd_ps(xv, wv[n], acc[m][n]);
    }
  }
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) out[m][n] = _mm512_reduce_add_ps(acc[m][n]);
}

template <int MR, int NR>
void block_q8(const float* const* x, const int8_t* const* w, const uint16_t* const* s, int64_t k0, int64_t k1,
              float out[4][4]) {
  __m512 acc[MR][NR];
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) acc[m][n] = _mm512_setzero_ps();
  for (int64_t k = k0; k < k1; k += Q8_BLOCK) {  // k0, k1 are multiples of 32 (Q8 needs cols % 32 == 0)
    __m512 lo[NR], hi[NR];
    for (int n = 0; n < NR; n++) {
      __m512 d = _mm512_set1_ps(h2f(s[n][k / Q8_BLOCK]));
      __m256i q = _mm256_loadu_si256((const __m256i*)(w[n] + k));
      lo[n] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))));
      hi[n] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))));
    }
    for (int m = 0; m < MR; m++) {
      __m512 xl = _mm512_loadu_ps(x[m] + k);
      __m512 xh = _mm512_loadu_ps(x[m] + k + 16);
      for (int n = 0; n < NR; n++) {
        acc[m][n] = _mm512_fmadd_ps(xl, lo[n], acc[m][n]);
        acc[m][n] = _mm512_fmadd_ps(xh, hi[n], acc[m][n]);
      }
    }
  }
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) out[m][n] = _mm512_reduce_add_ps(acc[m][n]);
}

// bf16 activations × bf16 weights, 32 products per vdpbf16ps
template <int MR, int NR>
void block_dp(const uint16_t* const* x, const uint16_t* const* w, int64_t k0, int64_t k1, float out[4][4]) {
  __m512 acc[MR][NR];
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) acc[m][n] = _mm512_setzero_ps();
  int64_t k = k0;
  for (; k + 32 <= k1; k += 32) {
    __m512i wv[NR];
    for (int n = 0; n < NR; n++) wv[n] = _mm512_loadu_si512(w[n] + k);
    for (int m = 0; m < MR; m++) {
      __m512i xv = _mm512_loadu_si512(x[m] + k);
      for (int n = 0; n < NR; n++) acc[m][n] = _mm512_dpbf16_ps(acc[m][n], (__m512bh)xv, (__m512bh)wv[n]);
    }
  }
  if (k < k1) {
    __mmask32 mask = (__mmask32)((1ull << (k1 - k)) - 1);
    __m512i wv[NR];
    for (int n = 0; n < NR; n++) wv[n] = _mm512_maskz_loadu_epi16(mask, w[n] + k);
    for (int m = 0; m < MR; m++) {
      __m512i xv = _mm512_maskz_loadu_epi16(mask, x[m] + k);
      for (int n = 0; n < NR; n++) acc[m][n] = _mm512_dpbf16_ps(acc[m][n], (__m512bh)xv, (__m512bh)wv[n]);
    }
  }
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) out[m][n] = _mm512_reduce_add_ps(acc[m][n]);
}

#elif AGC_LEVEL == 1
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline __m256 load_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}

template <int MR, int NR>
void block_bf16(const float* const* x, const uint16_t* const* w, int64_t k0, int64_t k1, float out[4][4]) {
  __m256 acc[MR][NR];
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
  int64_t k = k0;
  for (; k + 8 <= k1; k += 8) {
    __m256 wv[NR];
    for (int n = 0; n < NR; n++) wv[n] = load_bf16(w[n] + k);
    for (int m = 0; m < MR; m++) {
      __m256 xv = _mm256_loadu_ps(x[m] + k);
      for (int n = 0; n < NR; n++) acc[m][n] = _mm256_fmadd_ps(xv, wv[n], acc[m][n]);
    }
  }
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) {
      float t = hsum(acc[m][n]);
      for (int64_t j = k; j < k1; j++) t += x[m][j] * bf16_to_f32(w[n][j]);
      out[m][n] = t;
    }
}

template <int MR, int NR>
void block_q8(const float* const* x, const int8_t* const* w, const uint16_t* const* s, int64_t k0, int64_t k1,
              float out[4][4]) {
  __m256 acc[MR][NR];
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
  for (int64_t k = k0; k < k1; k += Q8_BLOCK) {
    for (int h = 0; h < 4; h++) {  // four 8-wide pieces of the 32-block
      __m256 wv[NR];
      for (int n = 0; n < NR; n++) {
        __m256 d = _mm256_set1_ps(h2f(s[n][k / Q8_BLOCK]));
        __m128i q = _mm_loadl_epi64((const __m128i*)(w[n] + k + 8 * h));
        wv[n] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
      }
      for (int m = 0; m < MR; m++) {
        __m256 xv = _mm256_loadu_ps(x[m] + k + 8 * h);
        for (int n = 0; n < NR; n++) acc[m][n] = _mm256_fmadd_ps(xv, wv[n], acc[m][n]);
      }
    }
  }
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) out[m][n] = hsum(acc[m][n]);
}

#else  // scalar
template <int MR, int NR>
void block_bf16(const float* const* x, const uint16_t* const* w, int64_t k0, int64_t k1, float out[4][4]) {
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t k = k0;
      for (; k + 8 <= k1; k += 8)
        for (int j = 0; j < 8; j++) acc[j] += x[m][k + j] * bf16_to_f32(w[n][k + j]);
      float t = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; k < k1; k++) t += x[m][k] * bf16_to_f32(w[n][k]);
      out[m][n] = t;
    }
}

template <int MR, int NR>
void block_q8(const float* const* x, const int8_t* const* w, const uint16_t* const* s, int64_t k0, int64_t k1,
              float out[4][4]) {
  for (int m = 0; m < MR; m++)
    for (int n = 0; n < NR; n++) {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t k = k0; k < k1; k += Q8_BLOCK) {
        float d = h2f(s[n][k / Q8_BLOCK]);
        for (int64_t j = 0; j < Q8_BLOCK; j++) acc[j & 7] += x[m][k + j] * (d * (float)w[n][k + j]);
      }
      out[m][n] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
}
#endif

// ---- drivers --------------------------------------------------------------------------------------------------

template <int MR, int NR>
void block(const Weight* w, const float* const* xr, int64_t n, int64_t k0, int64_t k1, float out[4][4]) {
  if (w->fmt == FMT_BF16) {
    const uint16_t* wr[4];
    for (int j = 0; j < NR; j++) wr[j] = (const uint16_t*)w->data + (n + j) * w->cols;
    block_bf16<MR, NR>(xr, wr, k0, k1, out);
  } else {
    const int8_t* wr[4];
    const uint16_t* sr[4];
    for (int j = 0; j < NR; j++) {
      wr[j] = (const int8_t*)w->data + (n + j) * w->cols;
      sr[j] = w->scales + (n + j) * (w->cols / Q8_BLOCK);
    }
    block_q8<MR, NR>(xr, wr, sr, k0, k1, out);
  }
}

using BlockFn = void (*)(const Weight*, const float* const*, int64_t, int64_t, int64_t, float[4][4]);

template <int MR>
BlockFn pick_nr(int nr) {
  switch (nr) {
    case 1: return block<MR, 1>;
    case 2: return block<MR, 2>;
    case 3: return block<MR, 3>;
    default: return block<MR, 4>;
  }
}

BlockFn pick(int mr, int nr) {
  switch (mr) {
    case 1: return pick_nr<1>(nr);
    case 2: return pick_nr<2>(nr);
    case 3: return pick_nr<3>(nr);
    default: return pick_nr<4>(nr);
  }
}

// Few rows: each weight quad streams once, its K chunks innermost. Many rows: K chunks outermost, so a chunk of
// every activation row stays in cache while the quads of the range pass over it. Same sums in the same order.
void matmul(const Weight* w, const float* x, int64_t ldx, int M, float* y, int64_t ldy, const float* bias,
            int64_t n0, int64_t n1) {
  const int64_t K = w->cols;
  const bool few = M <= 4;
  if (!few)
    for (int m = 0; m < M; m++)
      for (int64_t n = n0; n < n1; n++) y[m * ldy + n] = 0.0f;
  for (int64_t kc = 0; kc < (few ? 1 : K); kc += K_CHUNK) {
    for (int64_t n = n0; n < n1; n += 4) {
      int nr = (int)std::min<int64_t>(4, n1 - n);
      for (int m = 0; m < M; m += 4) {
        int mr = std::min(4, M - m);
        BlockFn f = pick(mr, nr);
        const float* xr[4];
        for (int i = 0; i < mr; i++) xr[i] = x + (m + i) * ldx;
        float out[4][4];
        if (few) {
          float sum[4][4] = {};
          for (int64_t k = 0; k < K; k += K_CHUNK) {
            f(w, xr, n, k, std::min(K, k + K_CHUNK), out);
            for (int i = 0; i < mr; i++)
              for (int j = 0; j < nr; j++) sum[i][j] += out[i][j];
          }
          for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) y[(m + i) * ldy + n + j] = sum[i][j];
        } else {
          f(w, xr, n, kc, std::min(K, kc + K_CHUNK), out);
          for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) y[(m + i) * ldy + n + j] += out[i][j];
        }
      }
    }
  }
  if (bias)
    for (int m = 0; m < M; m++)
      for (int64_t n = n0; n < n1; n++) y[m * ldy + n] += bias[n];
}

#if AGC_LEVEL == 2
using DpFn = void (*)(const uint16_t* const*, const uint16_t* const*, int64_t, int64_t, float[4][4]);
template <int MR>
DpFn dp_nr(int nr) {
  switch (nr) {
    case 1: return block_dp<MR, 1>;
    case 2: return block_dp<MR, 2>;
    case 3: return block_dp<MR, 3>;
    default: return block_dp<MR, 4>;
  }
}
DpFn dp_pick(int mr, int nr) {
  switch (mr) {
    case 1: return dp_nr<1>(nr);
    case 2: return dp_nr<2>(nr);
    case 3: return dp_nr<3>(nr);
    default: return dp_nr<4>(nr);
  }
}

void matmul_bf16(const Weight* w, const uint16_t* xb, int64_t ldxb, int M, float* y, int64_t ldy, const float* bias,
                 int64_t n0, int64_t n1) {
  const int64_t K = w->cols;
  for (int m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) y[m * ldy + n] = 0.0f;
  for (int64_t kc = 0; kc < K; kc += K_CHUNK) {
    int64_t ke = std::min(K, kc + K_CHUNK);
    for (int64_t n = n0; n < n1; n += 4) {
      int nr = (int)std::min<int64_t>(4, n1 - n);
      const uint16_t* wr[4];
      for (int j = 0; j < nr; j++) wr[j] = (const uint16_t*)w->data + (n + j) * K;
      for (int m = 0; m < M; m += 4) {
        int mr = std::min(4, M - m);
        const uint16_t* xr[4];
        for (int i = 0; i < mr; i++) xr[i] = xb + (m + i) * ldxb;
        float out[4][4];
        dp_pick(mr, nr)(xr, wr, kc, ke, out);
        for (int i = 0; i < mr; i++)
          for (int j = 0; j < nr; j++) y[(m + i) * ldy + n + j] += out[i][j];
      }
    }
  }
  if (bias)
    for (int m = 0; m < M; m++)
      for (int64_t n = n0; n < n1; n++) y[m * ldy + n] += bias[n];
}

void to_bf16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i*)(out + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
  for (; i < n; i++) out[i] = f32_to_bf16(x[i]);
}
#else
void to_bf16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = f32_to_bf16(x[i]);
}
#endif

float dot(const float* a, const float* b, int64_t n) {
#if AGC_LEVEL == 2
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  float t = _mm512_reduce_add_ps(acc);
#elif AGC_LEVEL == 1
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float t = hsum(acc);
#else
  int64_t i = 0;
  float t = 0;
#endif
  for (; i < n; i++) t += a[i] * b[i];
  return t;
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

}  // namespace

#if AGC_LEVEL == 2
const Kernels* kernels_avx512() {
  static const Kernels k{"avx512", matmul, matmul_bf16, to_bf16, dot, axpy};
  return &k;
}
#elif AGC_LEVEL == 1
const Kernels* kernels_avx2() {
  static const Kernels k{"avx2", matmul, nullptr, to_bf16, dot, axpy};
  return &k;
}
#else
const Kernels* kernels_scalar() {
  static const Kernels k{"scalar", matmul, nullptr, to_bf16, dot, axpy};
  return &k;
}
#endif

}  // namespace agc

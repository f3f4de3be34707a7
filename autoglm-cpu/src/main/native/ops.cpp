// Weight conversion and quantization at load, the decoder ops, and the bandwidth probe.
#include "ops.h"

#include <sys/mman.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

namespace agc {

// 64-byte aligned; large buffers on 2 MiB boundaries with transparent huge pages asked for (madvise mode), so that
// streaming a weight takes one TLB entry per 2 MiB instead of per 4 KiB. Freed with std::free.
void* big_alloc(size_t bytes) {
  constexpr size_t HUGE_PAGE = 2u << 20;
  if (bytes < 4 * HUGE_PAGE) return std::aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  size_t size = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  void* p = std::aligned_alloc(HUGE_PAGE, size);
#ifdef MADV_HUGEPAGE
  if (p) madvise(p, size, MADV_HUGEPAGE);
#endif
  return p;
}

// ---- weights --------------------------------------------------------------------------------------------------

Weight* weight_create(int fmt, int64_t rows, int64_t cols) {
  if (fmt == FMT_Q8 && cols % Q8_BLOCK != 0) return nullptr;
  Weight* w = new Weight{fmt, rows, cols, nullptr, nullptr};
  int64_t elem = fmt == FMT_F32 ? 4 : fmt == FMT_BF16 ? 2 : 1;
  size_t bytes = (size_t)(rows * cols * elem);
  w->data = big_alloc(bytes ? bytes : 64);
  if (fmt == FMT_Q8) {
    size_t sb = (size_t)(rows * (cols / Q8_BLOCK) * 2);
    w->scales = (uint16_t*)big_alloc(sb ? sb : 64);
  }
  if (w->data == nullptr || (fmt == FMT_Q8 && w->scales == nullptr)) {
    weight_free(w);
    return nullptr;
  }
  return w;
}

void weight_free(Weight* w) {
  if (!w) return;
  std::free(w->data);
  std::free(w->scales);
  delete w;
}

int64_t weight_bytes(const Weight* w) {
  int64_t elem = w->fmt == FMT_F32 ? 4 : w->fmt == FMT_BF16 ? 2 : 1;
  return w->rows * w->cols * elem + (w->fmt == FMT_Q8 ? w->rows * (w->cols / Q8_BLOCK) * 2 : 0);
}

static void src_row(const void* src, int dtype, int64_t cols, int64_t r, float* out) {
  if (dtype == 0) {
    std::memcpy(out, (const float*)src + r * cols, cols * 4);
  } else {
    const uint16_t* p = (const uint16_t*)src + r * cols;
    for (int64_t i = 0; i < cols; i++) out[i] = dtype == 1 ? bf16_to_f32(p[i]) : f16_to_f32(p[i]);
  }
}

// GGUF Q8_0's reference quantizer: d = amax / 127, q = round(x / d) (half away from zero), d stored as fp16.
static void quantize_row_q8(const float* x, int64_t cols, int8_t* q, uint16_t* scales) {
  for (int64_t b = 0; b < cols / Q8_BLOCK; b++) {
    const float* xb = x + b * Q8_BLOCK;
    float amax = 0;
    for (int j = 0; j < Q8_BLOCK; j++) amax = std::fmax(amax, std::fabs(xb[j]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < Q8_BLOCK; j++) q[b * Q8_BLOCK + j] = (int8_t)std::roundf(xb[j] * id);
    scales[b] = f32_to_f16(d);
  }
}

void weight_fill(Context* c, Weight* w, int64_t row0, const void* src, int src_dtype, int64_t n) {
  const int64_t cols = w->cols;
  const int64_t per_task = 64;
  c->pool->run((n + per_task - 1) / per_task, [&](int64_t t) {
    std::vector<float> row(cols);
    for (int64_t r = t * per_task; r < std::min(n, (t + 1) * per_task); r++) {
      int64_t dst = row0 + r;
      if (w->fmt == FMT_BF16 && src_dtype == 1) {  // bf16 stays bf16, bit for bit
        std::memcpy((uint16_t*)w->data + dst * cols, (const uint16_t*)src + r * cols, cols * 2);
        continue;
      }
      src_row(src, src_dtype, cols, r, row.data());
      if (w->fmt == FMT_F32) {
        std::memcpy((float*)w->data + dst * cols, row.data(), cols * 4);
      } else if (w->fmt == FMT_BF16) {
        uint16_t* o = (uint16_t*)w->data + dst * cols;
        for (int64_t i = 0; i < cols; i++) o[i] = f32_to_bf16(row[i]);
      } else {
        quantize_row_q8(row.data(), cols, (int8_t*)w->data + dst * cols, w->scales + dst * (cols / Q8_BLOCK));
      }
    }
  });
}

void weight_row(const Weight* w, int64_t row, float* out) {
  const int64_t cols = w->cols;
  if (w->fmt == FMT_F32) {
    std::memcpy(out, (const float*)w->data + row * cols, cols * 4);
  } else if (w->fmt == FMT_BF16) {
    const uint16_t* p = (const uint16_t*)w->data + row * cols;
    for (int64_t i = 0; i < cols; i++) out[i] = bf16_to_f32(p[i]);
  } else {
    const int8_t* q = (const int8_t*)w->data + row * cols;
    const uint16_t* s = w->scales + row * (cols / Q8_BLOCK);
    for (int64_t i = 0; i < cols; i++) out[i] = f16_to_f32(s[i / Q8_BLOCK]) * (float)q[i];
  }
}

// ---- ops ------------------------------------------------------------------------------------------------------

static float* alloc(Step* s, int64_t floats) { return (float*)s->arena->alloc((size_t)floats * 4); }

float* op_embedding(Step* s, const Weight* table, int64_t first_row) {
  float* out = alloc(s, s->tokens * table->cols);
  if (!out) return nullptr;
  for (int t = 0; t < s->tokens; t++) {
    int64_t r = (int64_t)s->token_ids[t] - first_row;
    if (r >= 0 && r < table->rows) weight_row(table, r, out + t * table->cols);
    else std::memset(out + t * table->cols, 0, table->cols * 4);
  }
  return out;
}

float* op_rmsnorm(Step* s, Act x, int64_t rows, int64_t cols, const Weight* w, float eps) {
  float* out = alloc(s, rows * cols);
  if (!out) return nullptr;
  const float* g = (const float*)w->data;
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x.p + r * x.ld;
    double ss = 0;
    for (int64_t i = 0; i < cols; i++) ss += (double)xr[i] * xr[i];
    float inv = 1.0f / std::sqrt((float)(ss / cols) + eps);
    for (int64_t i = 0; i < cols; i++) out[r * cols + i] = xr[i] * inv * g[i];
  }
  return out;
}

float* op_add(Step* s, Act a, Act b, int64_t rows, int64_t cols) {
  float* out = alloc(s, rows * cols);
  if (!out) return nullptr;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < cols; i++) out[r * cols + i] = a.p[r * a.ld + i] + b.p[r * b.ld + i];
  return out;
}

float* op_linear(Step* s, Act x, int64_t rows, const Weight* w, const Weight* bias) {
  const int64_t N = w->rows, K = w->cols;
  float* y = alloc(s, rows * N);
  if (!y) return nullptr;
  const Kernels* k = s->ctx->k;
  const float* b = bias ? (const float*)bias->data : nullptr;
  // Output rows per task: a multiple of the 4-row quad, enough tasks to balance two or more threads.
  const int64_t per = std::max<int64_t>(4, ((N / (16 * s->ctx->pool->threads())) + 3) & ~(int64_t)3);
  const int64_t tasks = (N + per - 1) / per;
  if (w->fmt == FMT_BF16 && k->matmul_bf16 && rows >= s->ctx->bf16_gemm_min_rows) {
    uint16_t* xb = (uint16_t*)s->arena->alloc((size_t)rows * K * 2);
    if (!xb) return nullptr;
    s->ctx->pool->run(rows, [&](int64_t r) { k->to_bf16(x.p + r * x.ld, xb + r * K, K); });
    s->ctx->pool->run(tasks, [&](int64_t t) {
      k->matmul_bf16(w, xb, K, (int)rows, y, N, b, t * per, std::min(N, (t + 1) * per));
    });
  } else {
    s->ctx->pool->run(tasks, [&](int64_t t) {
      k->matmul(w, x.p, x.ld, (int)rows, y, N, b, t * per, std::min(N, (t + 1) * per));
    });
  }
  return y;
}

float* op_silu_mul(Step* s, Act x, int64_t rows, int64_t cols) {
  int64_t half = cols / 2;
  float* out = alloc(s, rows * half);
  if (!out) return nullptr;
  for (int64_t r = 0; r < rows; r++) {
    const float* g = x.p + r * x.ld;
    const float* u = g + half;
    for (int64_t i = 0; i < half; i++) out[r * half + i] = g[i] * (1.0f / (1.0f + std::exp(-g[i]))) * u[i];
  }
  return out;
}

float* op_rope(Step* s, Act x, int heads, int head_dim, int rot, bool interleaved, const float* cos,
               const float* sin) {
  const int64_t width = (int64_t)heads * head_dim;
  const int half = rot / 2;
  float* out = alloc(s, s->tokens * width);
  if (!out) return nullptr;
  for (int t = 0; t < s->tokens; t++) {
    const float* c = cos + (int64_t)t * half;
    const float* sn = sin + (int64_t)t * half;
    for (int h = 0; h < heads; h++) {
      const float* in = x.p + t * x.ld + (int64_t)h * head_dim;
      float* o = out + t * width + (int64_t)h * head_dim;
      for (int i = 0; i < half; i++) {
        int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
        float x1 = in[a], x2 = in[b];
        o[a] = x1 * c[i] - x2 * sn[i];
        o[b] = x2 * c[i] + x1 * sn[i];
      }
      for (int i = rot; i < head_dim; i++) o[i] = in[i];
    }
  }
  return out;
}

namespace {
float fp8_decode_bits(int b) {
  int exp = (b >> 3) & 0xf, mant = b & 0x7;
  float m = exp == 0xf && mant == 0x7 ? NAN : exp == 0 ? mant * 0x1p-9f : std::ldexp((float)(8 + mant), exp - 10);
  return (b & 0x80) ? -m : m;
}

struct Fp8Table {
  float v[256];
  Fp8Table() {
    for (int b = 0; b < 256; b++) v[b] = fp8_decode_bits(b);
  }
};
const Fp8Table FP8_TABLE;

// The d FP8 codes of one cached K or V row (at slot, channel off) decoded into buf.
const float* decode_row(const KvCache* kv, const void* base, int64_t slot, int64_t off, int d, float* buf) {
  const uint8_t* c = (const uint8_t*)base + slot * kv->width + off;
  for (int i = 0; i < d; i++) buf[i] = FP8_TABLE.v[c[i]];
  return buf;
}
}  // namespace

uint8_t fp8_encode(float x) {
  if (std::isnan(x)) return 0x7f;
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  int sign = (bits >> 24) & 0x80, code;
  float a = std::fabs(x);
  if (a > 448.f) {
    code = 0x7e;
  } else if (a < 0x1p-6f) {  // subnormals: multiples of 2^-9 (rounding up to 8·2^-9 gives 0x08, the min normal)
    code = (int)std::nearbyint(a * 512.0);
  } else {
    int e = std::ilogb(a);  // a in [2^e, 2^(e+1)), e in [-6, 8]
    int m8 = (int)std::nearbyint(std::ldexp((double)a, 3 - e));  // in [8, 16]; 16 carries into the exponent
    code = ((e + 7) << 3) + m8 - 8;
  }
  return (uint8_t)(code | sign);
}

void op_write_kv(Step* s, KvCache* kv, int layer, Act k, Act v) {
  for (int t = 0; t < s->tokens; t++) {
    int64_t at = s->slots[t] * kv->width;
    const float* kt = k.p + t * k.ld;
    const float* vt = v.p + t * v.ld;
    if (kv->fp8) {
      uint8_t* kc = (uint8_t*)kv->k[layer] + at;
      uint8_t* vc = (uint8_t*)kv->v[layer] + at;
      for (int64_t i = 0; i < kv->width; i++) {
        kc[i] = fp8_encode(kt[i]);
        vc[i] = fp8_encode(vt[i]);
      }
    } else {
      std::memcpy((float*)kv->k[layer] + at, kt, kv->width * 4);
      std::memcpy((float*)kv->v[layer] + at, vt, kv->width * 4);
    }
  }
}

// op_attention over an FP8 cache: one task per (token, KV head), which decodes each K and V row of the context once
// for all the KV head's query heads and then does, per query head, exactly op_attention's arithmetic in its order
// (so the result equals op_attention over an fp32 cache holding the decoded values, bit for bit).
static void attention_fp8(Step* s, const KvCache* kv, int layer, Act q, int heads, float scale, float* out,
                          const std::vector<int>& seq_of) {
  const int d = kv->head_dim, group = heads / kv->kv_heads;
  const int64_t width = (int64_t)heads * d;
  const Kernels* k = s->ctx->k;
  s->ctx->pool->run((int64_t)s->tokens * kv->kv_heads, [&](int64_t task) {
    int t = (int)(task / kv->kv_heads), kvh = (int)(task % kv->kv_heads);
    const Sequence& sq = s->seqs[seq_of[t]];
    int visible = sq.context_len - sq.query_len + (t - sq.query_start) + 1;  // causal: positions 0..own
    const int* slots = s->ctx_slots.data() + sq.ctx_offset;
    const int64_t off = (int64_t)kvh * d;
    thread_local std::vector<float> score, row, mx, inv;
    score.resize((size_t)group * visible);
    row.resize(d);
    mx.assign(group, -INFINITY);
    inv.resize(group);
    for (int j = 0; j < visible; j++) {
      const float* kr = decode_row(kv, kv->k[layer], slots[j], off, d, row.data());
      for (int g = 0; g < group; g++) {
        const float* qh = q.p + t * q.ld + (int64_t)(kvh * group + g) * d;
        float sc = k->dot(qh, kr, d) * scale;
        score[(size_t)g * visible + j] = sc;
        mx[g] = std::fmax(mx[g], sc);
      }
    }
    for (int g = 0; g < group; g++) {
      float* sg = score.data() + (size_t)g * visible;
      double sum = 0;
      for (int j = 0; j < visible; j++) {
        sg[j] = std::exp(sg[j] - mx[g]);
        sum += sg[j];
      }
      inv[g] = (float)(1.0 / sum);
      std::memset(out + t * width + (int64_t)(kvh * group + g) * d, 0, d * 4);
    }
    for (int j = 0; j < visible; j++) {
      const float* vr = decode_row(kv, kv->v[layer], slots[j], off, d, row.data());
      for (int g = 0; g < group; g++)
        k->axpy(score[(size_t)g * visible + j] * inv[g], vr, out + t * width + (int64_t)(kvh * group + g) * d, d);
    }
  });
}

// Softmax attention of each query row over its sequence's cached context, one task per (token, query head); over an
// FP8 cache, attention_fp8.
float* op_attention(Step* s, KvCache* kv, int layer, Act q, int heads, float scale) {
  const int d = kv->head_dim, group = heads / kv->kv_heads;
  const int64_t width = (int64_t)heads * d;
  float* out = alloc(s, s->tokens * width);
  if (!out) return nullptr;
  std::vector<int> seq_of(s->tokens);
  for (int i = 0; i < (int)s->seqs.size(); i++)
    for (int j = 0; j < s->seqs[i].query_len; j++) seq_of[s->seqs[i].query_start + j] = i;
  if (kv->fp8) {
    attention_fp8(s, kv, layer, q, heads, scale, out, seq_of);
    return out;
  }
  const Kernels* k = s->ctx->k;
  s->ctx->pool->run((int64_t)s->tokens * heads, [&](int64_t task) {
    int t = (int)(task / heads), h = (int)(task % heads), kvh = h / group;
    const Sequence& sq = s->seqs[seq_of[t]];
    int visible = sq.context_len - sq.query_len + (t - sq.query_start) + 1;  // causal: positions 0..own
    const int* slots = s->ctx_slots.data() + sq.ctx_offset;
    const float* qh = q.p + t * q.ld + (int64_t)h * d;
    const int64_t off = (int64_t)kvh * d;
    thread_local std::vector<float> score;
    score.resize(visible);
    float mx = -INFINITY;
    for (int j = 0; j < visible; j++) {
      score[j] = k->dot(qh, (const float*)kv->k[layer] + (int64_t)slots[j] * kv->width + off, d) * scale;
      mx = std::fmax(mx, score[j]);
    }
    double sum = 0;
    for (int j = 0; j < visible; j++) {
      score[j] = std::exp(score[j] - mx);
      sum += score[j];
    }
    float inv = (float)(1.0 / sum);
    float* o = out + t * width + (int64_t)h * d;
    std::memset(o, 0, d * 4);
    for (int j = 0; j < visible; j++)
      k->axpy(score[j] * inv, (const float*)kv->v[layer] + (int64_t)slots[j] * kv->width + off, o, d);
  });
  return out;
}

float* op_rows(Step* s, Act x, int64_t cols, const int* rows, int n) {
  float* out = alloc(s, (int64_t)n * cols);
  if (!out) return nullptr;
  for (int i = 0; i < n; i++) std::memcpy(out + i * cols, x.p + (int64_t)rows[i] * x.ld, cols * 4);
  return out;
}

double read_bandwidth(Context* c, int64_t bytes, int runs) {
  int64_t n = bytes / 4;
  float* a = (float*)std::aligned_alloc(64, ((size_t)n * 4 + 63) & ~(size_t)63);
  if (!a) return 0;
  const int64_t per = 1 << 20;  // 4 MB per task
  const int64_t tasks = (n + per - 1) / per;
  c->pool->run(tasks, [&](int64_t t) {  // touch every page, from the threads that will read it
    for (int64_t i = t * per; i < std::min(n, (t + 1) * per); i++) a[i] = 1.0f;
  });
  double best = 0;
  std::vector<float> sums(tasks);
  for (int r = 0; r < runs; r++) {
    auto t0 = std::chrono::steady_clock::now();
    c->pool->run(tasks, [&](int64_t t) {
      int64_t from = t * per, len = std::min(n, (t + 1) * per) - from;
      sums[t] = c->k->dot(a + from, a + from, len);
    });
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, (double)n * 4 / sec);
  }
  volatile float sink = sums[0];
  (void)sink;
  std::free(a);
  return best;
}

}  // namespace agc

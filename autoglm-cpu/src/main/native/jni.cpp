// The JNI bridge: io.autoglm.cpu.CpuNative. Handles are native pointers as longs. Shapes are checked in Java; here
// a null result (out of memory) becomes an IllegalStateException naming the op and the bytes.
#include <jni.h>

#include <string>

#include "ops.h"

using namespace agc;

#define JFN(ret, name) extern "C" JNIEXPORT ret JNICALL Java_io_autoglm_cpu_CpuNative_##name

static void throw_state(JNIEnv* env, const std::string& msg) {
  jclass c = env->FindClass("java/lang/IllegalStateException");
  if (c) env->ThrowNew(c, msg.c_str());
}

static jlong checked(JNIEnv* env, float* p, const char* op) {
  if (!p) throw_state(env, std::string("cpu-native: out of memory for the output of ") + op);
  return (jlong)p;
}

template <class T>
static T* H(jlong h) { return reinterpret_cast<T*>(h); }

static Act A(jlong p, jlong ld) { return Act{reinterpret_cast<const float*>(p), ld}; }

static std::vector<int> ints(JNIEnv* env, jintArray a) {
  std::vector<int> v(env->GetArrayLength(a));
  env->GetIntArrayRegion(a, 0, (jsize)v.size(), v.data());
  return v;
}

JFN(jstring, bestLevel)(JNIEnv* env, jclass) { return env->NewStringUTF(best_level_name()); }

JFN(jboolean, levelAvailable)(JNIEnv* env, jclass, jstring name) {
  const char* n = env->GetStringUTFChars(name, nullptr);
  bool ok = select_kernels(n) != nullptr;
  env->ReleaseStringUTFChars(name, n);
  return ok;
}

JFN(jlong, createContext)(JNIEnv* env, jclass, jint threads, jstring level, jint bf16GemmMinRows) {
  const char* n = env->GetStringUTFChars(level, nullptr);
  const Kernels* k = select_kernels(n);
  env->ReleaseStringUTFChars(level, n);
  if (!k) return 0;
  return (jlong) new Context{k, std::make_unique<Pool>(threads), bf16GemmMinRows};
}

JFN(void, destroyContext)(JNIEnv*, jclass, jlong ctx) { delete H<Context>(ctx); }

JFN(jstring, levelName)(JNIEnv* env, jclass, jlong ctx) { return env->NewStringUTF(H<Context>(ctx)->k->name); }

JFN(jlong, weightCreate)(JNIEnv*, jclass, jint fmt, jlong rows, jlong cols) {
  return (jlong)weight_create(fmt, rows, cols);
}

JFN(void, weightFill)(JNIEnv* env, jclass, jlong ctx, jlong w, jlong row0, jobject src, jint dtype, jlong rows) {
  void* p = env->GetDirectBufferAddress(src);
  if (!p) {
    throw_state(env, "cpu-native: weight source is not a direct buffer");
    return;
  }
  weight_fill(H<Context>(ctx), H<Weight>(w), row0, p, dtype, rows);
}

JFN(void, weightFree)(JNIEnv*, jclass, jlong w) { weight_free(H<Weight>(w)); }

JFN(jlong, weightBytes)(JNIEnv*, jclass, jlong w) { return weight_bytes(H<Weight>(w)); }

JFN(void, weightRow)(JNIEnv* env, jclass, jlong w, jlong row, jfloatArray out) {
  std::vector<float> tmp(H<Weight>(w)->cols);
  weight_row(H<Weight>(w), row, tmp.data());
  env->SetFloatArrayRegion(out, 0, (jsize)tmp.size(), tmp.data());
}

JFN(jlong, kvCreate)(JNIEnv*, jclass, jint layers, jlong slots, jint kvHeads, jint headDim, jboolean fp8) {
  auto* kv = new KvCache{layers, slots, (int64_t)kvHeads * headDim, kvHeads, headDim, fp8 != 0, {}, {}};
  size_t bytes = ((size_t)(slots * kv->width * kv->elem_bytes()) + 63) & ~(size_t)63;
  for (int l = 0; l < layers; l++) {
    void* k = big_alloc(bytes);
    void* v = big_alloc(bytes);
    kv->k.push_back(k);
    kv->v.push_back(v);
    if (!k || !v) {
      for (void* p : kv->k) std::free(p);
      for (void* p : kv->v) std::free(p);
      delete kv;
      return 0;
    }
    std::memset(k, 0, bytes);
    std::memset(v, 0, bytes);
  }
  return (jlong)kv;
}

JFN(void, kvFree)(JNIEnv*, jclass, jlong h) {
  KvCache* kv = H<KvCache>(h);
  for (void* p : kv->k) std::free(p);
  for (void* p : kv->v) std::free(p);
  delete kv;
}

// seqs: (queryStart, queryLen, contextLen) per sequence; ctxSlots: each sequence's context slots, back to back
JFN(jlong, stepBegin)(JNIEnv* env, jclass, jlong ctx, jintArray ids, jintArray positions, jintArray slots,
                      jintArray seqs, jintArray ctxSlots) {
  auto* s = new Step{H<Context>(ctx), std::make_unique<Arena>(), 0, ints(env, ids), ints(env, positions),
                     ints(env, slots), {}, ints(env, ctxSlots)};
  s->tokens = (int)s->token_ids.size();
  std::vector<int> q = ints(env, seqs);
  int64_t off = 0;
  for (size_t i = 0; i + 2 < q.size(); i += 3) {
    s->seqs.push_back(Sequence{q[i], q[i + 1], q[i + 2], off});
    off += q[i + 2];
  }
  return (jlong)s;
}

JFN(void, stepEnd)(JNIEnv*, jclass, jlong step) { delete H<Step>(step); }

JFN(jlong, fromHost)(JNIEnv* env, jclass, jlong step, jfloatArray data) {
  jsize n = env->GetArrayLength(data);
  float* p = (float*)H<Step>(step)->arena->alloc((size_t)n * 4);
  if (p) env->GetFloatArrayRegion(data, 0, n, p);
  return checked(env, p, "fromHost");
}

JFN(void, toHost)(JNIEnv* env, jclass, jlong p, jlong ld, jint rows, jint cols, jobjectArray out) {
  for (jint r = 0; r < rows; r++) {
    jfloatArray row = (jfloatArray)env->GetObjectArrayElement(out, r);
    env->SetFloatArrayRegion(row, 0, cols, reinterpret_cast<const float*>(p) + (int64_t)r * ld);
    env->DeleteLocalRef(row);
  }
}

JFN(jlong, embedding)(JNIEnv* env, jclass, jlong step, jlong table, jlong firstRow) {
  return checked(env, op_embedding(H<Step>(step), H<Weight>(table), firstRow), "embedding");
}

JFN(jlong, rmsNorm)(JNIEnv* env, jclass, jlong step, jlong x, jlong ld, jlong rows, jlong cols, jlong w, jfloat eps) {
  return checked(env, op_rmsnorm(H<Step>(step), A(x, ld), rows, cols, H<Weight>(w), eps), "rmsNorm");
}

JFN(jlong, add)(JNIEnv* env, jclass, jlong step, jlong a, jlong lda, jlong b, jlong ldb, jlong rows, jlong cols) {
  return checked(env, op_add(H<Step>(step), A(a, lda), A(b, ldb), rows, cols), "add");
}

JFN(jlong, linear)(JNIEnv* env, jclass, jlong step, jlong x, jlong ld, jlong rows, jlong w, jlong bias) {
  return checked(env, op_linear(H<Step>(step), A(x, ld), rows, H<Weight>(w), H<Weight>(bias)), "linear");
}

JFN(jlong, siluMul)(JNIEnv* env, jclass, jlong step, jlong x, jlong ld, jlong rows, jlong cols) {
  return checked(env, op_silu_mul(H<Step>(step), A(x, ld), rows, cols), "siluMul");
}

JFN(jlong, rope)(JNIEnv* env, jclass, jlong step, jlong x, jlong ld, jint heads, jint headDim, jint rot,
                 jboolean interleaved, jfloatArray cos, jfloatArray sin) {
  std::vector<float> c(env->GetArrayLength(cos)), sn(env->GetArrayLength(sin));
  env->GetFloatArrayRegion(cos, 0, (jsize)c.size(), c.data());
  env->GetFloatArrayRegion(sin, 0, (jsize)sn.size(), sn.data());
  return checked(env, op_rope(H<Step>(step), A(x, ld), heads, headDim, rot, interleaved, c.data(), sn.data()),
                 "rope");
}

JFN(void, writeKv)(JNIEnv*, jclass, jlong step, jlong kv, jint layer, jlong k, jlong ldk, jlong v, jlong ldv) {
  op_write_kv(H<Step>(step), H<KvCache>(kv), layer, A(k, ldk), A(v, ldv));
}

JFN(jlong, attention)(JNIEnv* env, jclass, jlong step, jlong kv, jint layer, jlong q, jlong ld, jint heads,
                      jfloat scale) {
  return checked(env, op_attention(H<Step>(step), H<KvCache>(kv), layer, A(q, ld), heads, scale), "attention");
}

JFN(jlong, rows)(JNIEnv* env, jclass, jlong step, jlong x, jlong ld, jlong cols, jintArray rows) {
  std::vector<int> r = ints(env, rows);
  return checked(env, op_rows(H<Step>(step), A(x, ld), cols, r.data(), (int)r.size()), "rows");
}

JFN(jdouble, readBandwidth)(JNIEnv*, jclass, jlong ctx, jlong bytes, jint runs) {
  return read_bandwidth(H<Context>(ctx), bytes, runs);
}

// JNI entry points of io.autoglm.cuda.CudaNative that launch kernels (kernels.cuh) or cuBLAS GEMMs.
#include "bridge.cuh"
#include "attention.cuh"

// ---- kernels ----

JNI(void, embedding)(JNIEnv* env, jclass, jlong h, jlong out, jlong table, jlong ids, jint rows, jint hidden,
                     jint firstRow, jint tableRows) {
  launchEmbedding(ctx(h)->stream, p<bf16>(out), p<bf16>(table), p<int>(ids), rows, hidden, firstRow, tableRows);
  launched(env, "embedding kernel");
}

JNI(void, rmsNorm)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jlong w, jint rows, jint n,
                   jfloat eps) {
  launchRmsNorm(ctx(h)->stream, p<bf16>(out), p<bf16>(x), ldx, p<bf16>(w), rows, n, eps);
  launched(env, "rmsNorm kernel");
}

JNI(void, addRmsNorm)(JNIEnv* env, jclass, jlong h, jlong sum, jlong out, jlong a, jint lda, jlong b, jint ldb,
                      jlong w, jint rows, jint n, jfloat eps) {
  launchAddRmsNorm(ctx(h)->stream, p<bf16>(sum), p<bf16>(out), p<bf16>(a), lda, p<bf16>(b), ldb, p<bf16>(w), rows,
                   n, eps);
  launched(env, "addRmsNorm kernel");
}

JNI(void, add)(JNIEnv* env, jclass, jlong h, jlong out, jlong a, jint lda, jlong b, jint ldb, jint rows, jint n) {
  launchAdd(ctx(h)->stream, p<bf16>(out), p<bf16>(a), lda, p<bf16>(b), ldb, rows, n);
  launched(env, "add kernel");
}

JNI(void, siluMul)(JNIEnv* env, jclass, jlong h, jlong out, jlong gu, jint ld, jint rows, jint inter) {
  launchSiluMul(ctx(h)->stream, p<bf16>(out), p<bf16>(gu), ld, rows, inter);
  launched(env, "siluMul kernel");
}

JNI(void, rope)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jlong pos, jlong inv, jint rows,
                jint heads, jint headDim, jint rot, jboolean interleaved) {
  launchRope(ctx(h)->stream, p<bf16>(out), p<bf16>(x), ldx, p<int>(pos), p<float>(inv), rows, heads, headDim, rot,
             interleaved);
  launched(env, "rope kernel");
}

JNI(void, ropeWriteKv)(JNIEnv* env, jclass, jlong h, jlong k, jint ldk, jlong v, jint ldv, jlong kc, jlong vc,
                       jlong slots, jlong pos, jlong inv, jint rows, jint kvHeads, jint headDim, jint rot,
                       jboolean interleaved, jboolean rope, jboolean fp8Kv) {
  if (fp8Kv) {
    launchRopeWriteKv(ctx(h)->stream, p<bf16>(k), ldk, p<bf16>(v), ldv, p<kv8>(kc), p<kv8>(vc), p<int>(slots),
                      p<int>(pos), p<float>(inv), rows, kvHeads, headDim, rot, interleaved, rope);
  } else {
    launchRopeWriteKv(ctx(h)->stream, p<bf16>(k), ldk, p<bf16>(v), ldv, p<bf16>(kc), p<bf16>(vc), p<int>(slots),
                      p<int>(pos), p<float>(inv), rows, kvHeads, headDim, rot, interleaved, rope);
  }
  launched(env, "ropeWriteKv kernel");
}

JNI(void, attention)(JNIEnv* env, jclass, jlong h, jlong out, jlong part, jlong counters, jlong q, jint ldq, jlong kc,
                     jlong vc,
                     jlong tokSeq, jlong pos, jlong tables, jint stride, jint blockSize, jint rows, jint heads,
                     jint kvHeads, jint headDim, jfloat scale, jint partition, jint splits, jintArray segs,
                     jlong devSegs, jboolean fp8Kv) {
  // the prefill segments: (first row, rows) pairs, on the host for the launch plan and at devSegs for the kernel
  int nseg = segs == nullptr ? 0 : env->GetArrayLength(segs) / 2;
  std::vector<int> hostSegs((size_t)nseg * 2);
  if (nseg > 0) env->GetIntArrayRegion(segs, 0, nseg * 2, hostSegs.data());
  bool ok = fp8Kv ? launchAttentionMixed(ctx(h)->stream, p<bf16>(out), p<float>(part), p<int>(counters), p<bf16>(q),
                                         ldq, p<kv8>(kc), p<kv8>(vc), p<int>(tokSeq), p<int>(pos), p<int>(tables),
                                         stride, blockSize, rows, heads, kvHeads, headDim, scale, partition, splits,
                                         hostSegs.data(), p<int>(devSegs), nseg)
                  : launchAttentionMixed(ctx(h)->stream, p<bf16>(out), p<float>(part), p<int>(counters), p<bf16>(q),
                                         ldq, p<bf16>(kc), p<bf16>(vc), p<int>(tokSeq), p<int>(pos), p<int>(tables),
                                         stride, blockSize, rows, heads, kvHeads, headDim, scale, partition, splits,
                                         hostSegs.data(), p<int>(devSegs), nseg);
  if (!ok) {
    char buf[320];
    snprintf(buf, sizeof buf, "attention: no kernel for %d query heads over %d KV heads with headDim %d (supported: "
             "query heads a multiple of the KV heads, any number per KV head; headDim 1..256), or prefill segments "
             "that overlap or leave rows 0..%d", heads, kvHeads, headDim, rows - 1);
    throwIse(env, buf);
    return;
  }
  launched(env, "attention kernel");
}

JNI(void, setGemvVariant)(JNIEnv*, jclass, jint v) { setGemvVariant(v); }

JNI(void, setGemvTc)(JNIEnv*, jclass, jint minRows) { setGemvTc(minRows); }
JNI(void, setFp8GemvTc)(JNIEnv*, jclass, jint minRows) { setFp8GemvTc(minRows); }

JNI(void, setPdl)(JNIEnv*, jclass, jboolean on) { setPdl(on); }

JNI(void, setAttentionVariant)(JNIEnv*, jclass, jint v) { setAttentionVariant(v); }

JNI(void, setAttentionSplitHeads)(JNIEnv*, jclass, jboolean on) { setAttentionSplitHeads(on); }

/** Whether the device can launch kernels programmatically dependent (sm_90 and later). */
JNI(jboolean, supportsPdl)(JNIEnv* env, jclass, jint device) {
  int major = 0;
  CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute", JNI_FALSE);
  return major >= 9 ? JNI_TRUE : JNI_FALSE;
}

/** Linear + SiLU·mul in one GEMV (rows <= 8); false when the kernel does not apply (the caller falls back). */
JNI(jboolean, linearSiluMul)(JNIEnv* env, jclass, jlong h, jlong y, jlong x, jint ldx, jlong w, jint rows, jint in,
                             jint inter) {
  if (!launchGemvSilu(ctx(h)->stream, p<bf16>(y), p<bf16>(x), ldx, p<bf16>(w), rows, in, inter)) return JNI_FALSE;
  return launched(env, "gemvSilu kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(void, ropeQkv)(JNIEnv* env, jclass, jlong h, jlong qOut, jlong q, jint ldq, jlong k, jint ldk, jlong v, jint ldv,
                   jlong kc, jlong vc, jlong slots, jlong pos, jlong inv, jint rows, jint heads, jint kvHeads,
                   jint headDim, jint rot, jboolean interleaved, jlong bias, jboolean fp8Kv) {
  if (fp8Kv) {
    launchRopeQkv(ctx(h)->stream, p<bf16>(qOut), p<bf16>(q), ldq, p<bf16>(k), ldk, p<bf16>(v), ldv, p<kv8>(kc),
                  p<kv8>(vc), p<int>(slots), p<int>(pos), p<float>(inv), rows, heads, kvHeads, headDim, rot,
                  interleaved, p<bf16>(bias));
  } else {
    launchRopeQkv(ctx(h)->stream, p<bf16>(qOut), p<bf16>(q), ldq, p<bf16>(k), ldk, p<bf16>(v), ldv, p<bf16>(kc),
                  p<bf16>(vc), p<int>(slots), p<int>(pos), p<float>(inv), rows, heads, kvHeads, headDim, rot,
                  interleaved, p<bf16>(bias));
  }
  launched(env, "ropeQkv kernel");
}

/** Residual add + RMSNorm + gate_up GEMV + SiLU·mul in one kernel (rows <= 4); false when it does not apply. */
JNI(jboolean, addRmsNormLinearSiluMul)(JNIEnv* env, jclass, jlong h, jlong sum, jlong y, jlong a, jint lda, jlong b,
                                       jint ldb, jlong normW, jfloat eps, jlong w, jint rows, jint in, jint inter) {
  if (!launchAddRmsNormGemvSilu(ctx(h)->stream, p<bf16>(sum), p<bf16>(y), p<bf16>(a), lda, p<bf16>(b), ldb,
                                p<bf16>(normW), eps, p<bf16>(w), rows, in, inter)) {
    return JNI_FALSE;
  }
  return launched(env, "addRmsNorm+gemvSilu kernel") ? JNI_TRUE : JNI_FALSE;
}

/** Residual add + RMSNorm + QKV GEMV + RoPE + KV write in one kernel (rows <= 4); false when it does not apply. */
JNI(jboolean, addRmsNormQkvRope)(JNIEnv* env, jclass, jlong h, jlong sum, jlong qOut, jlong a, jint lda, jlong b,
                                 jint ldb, jlong normW, jfloat eps, jlong w, jlong bias, jint rows, jint in, jlong kc,
                                 jlong vc, jlong slots, jlong pos, jlong inv, jint heads, jint kvHeads, jint headDim,
                                 jint rot, jboolean fp8Kv) {
  bool ok = fp8Kv ? launchAddRmsNormQkvRope(ctx(h)->stream, p<bf16>(sum), p<bf16>(qOut), p<bf16>(a), lda, p<bf16>(b),
                                            ldb, p<bf16>(normW), eps, p<bf16>(w), p<bf16>(bias), rows, in,
                                            p<kv8>(kc), p<kv8>(vc), p<int>(slots), p<int>(pos), p<float>(inv), heads,
                                            kvHeads, headDim, rot)
                  : launchAddRmsNormQkvRope(ctx(h)->stream, p<bf16>(sum), p<bf16>(qOut), p<bf16>(a), lda, p<bf16>(b),
                                            ldb, p<bf16>(normW), eps, p<bf16>(w), p<bf16>(bias), rows, in,
                                            p<bf16>(kc), p<bf16>(vc), p<int>(slots), p<int>(pos), p<float>(inv),
                                            heads, kvHeads, headDim, rot);
  if (!ok) return JNI_FALSE;
  return launched(env, "addRmsNorm+qkv+rope kernel") ? JNI_TRUE : JNI_FALSE;
}

/** QKV GEMV + RoPE + KV write in one kernel (rows <= 8); false when it does not apply. */
JNI(jboolean, linearQkvRope)(JNIEnv* env, jclass, jlong h, jlong qOut, jlong x, jint ldx, jlong w, jlong bias,
                             jint rows, jint in, jlong kc, jlong vc, jlong slots, jlong pos, jlong inv, jint heads,
                             jint kvHeads, jint headDim, jint rot, jboolean fp8Kv) {
  bool ok = fp8Kv ? launchGemvQkvRope(ctx(h)->stream, p<bf16>(qOut), p<bf16>(x), ldx, p<bf16>(w), p<bf16>(bias), rows,
                                      in, p<kv8>(kc), p<kv8>(vc), p<int>(slots), p<int>(pos), p<float>(inv), heads,
                                      kvHeads, headDim, rot)
                  : launchGemvQkvRope(ctx(h)->stream, p<bf16>(qOut), p<bf16>(x), ldx, p<bf16>(w), p<bf16>(bias), rows,
                                      in, p<bf16>(kc), p<bf16>(vc), p<int>(slots), p<int>(pos), p<float>(inv), heads,
                                      kvHeads, headDim, rot);
  if (!ok) return JNI_FALSE;
  return launched(env, "qkv+rope kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(void, gather)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jlong idx, jint rows, jint cols,
                  jint elemBytes) {
  launchGather(ctx(h)->stream, p<void>(out), p<void>(x), ldx, p<int>(idx), rows, cols, elemBytes);
  launched(env, "gather kernel");
}

/**
 * y (rows, out) = x (rows, in) · Wᵀ (+ bias), W bf16 (out, in): through cuBLASLt when cuda.gemm asks for it and the
 * shape takes it (gemm_lt.cu), else cublasGemmEx and the addBias kernel; false after throwing.
 */
bool gemmBf16(JNIEnv* env, Context* c, void* y, int ldy, bool f32Out, const void* x, int ldx, const void* w,
              const bf16* bias, int rows, int in, int out) {
  if (bias != nullptr && f32Out) { throwIse(env, "linear: bias with fp32 output is not supported"); return false; }
  if (gemmLtRun(c, y, ldy, f32Out, x, ldx, w, bias, rows, in, out) == 1) return launched(env, "cuBLASLt GEMM");
  int st = gemmExRun(c, y, ldy, f32Out, x, ldx, w, bias, rows, in, out);
  if (st != 0) {
    char buf[200];
    snprintf(buf, sizeof buf, "cublasGemmEx failed with status %d (m=%d n=%d k=%d)", st, out, rows, in);
    throwIse(env, buf);
    return false;
  }
  return bias == nullptr || launched(env, "addBias kernel");
}

/** y (rows, out) = x (rows, in) · Wᵀ (+ bias): the GEMV kernel for rows <= 8 when allowed, else cuBLAS. */
JNI(void, linear)(JNIEnv* env, jclass, jlong h, jlong y, jint ldy, jboolean f32Out, jlong x, jint ldx, jlong w,
                  jlong bias, jint rows, jint in, jint out, jboolean allowGemv) {
  Context* c = ctx(h);
  if (allowGemv && launchGemv(c->stream, p<void>(y), ldy, f32Out, p<bf16>(x), ldx, p<bf16>(w), p<bf16>(bias), rows,
                              in, out)) {
    launched(env, "gemv kernel");
    return;
  }
  gemmBf16(env, c, p<void>(y), ldy, f32Out, p<void>(x), ldx, p<void>(w), p<bf16>(bias), rows, in, out);
}

JNI(void, sample)(JNIEnv* env, jclass, jlong h, jlong outTok, jlong logits, jint ldl, jint vocab, jlong params,
                  jint rows) {
  launchSample(ctx(h)->stream, p<int>(outTok), p<float>(logits), ldl, vocab, p<SampleParams>(params), rows);
  launched(env, "sample kernel");
}

JNI(void, toFloat)(JNIEnv* env, jclass, jlong h, jlong out, jlong x, jint ldx, jint rows, jint cols) {
  launchToFloat(ctx(h)->stream, p<float>(out), p<bf16>(x), ldx, rows, cols);
  launched(env, "toFloat kernel");
}

JNI(void, headRmsNorm)(JNIEnv* env, jclass, jlong h, jlong out, jint ldo, jlong x, jint ldx, jlong w, jint rows,
                       jint heads, jint headDim, jfloat eps) {
  launchHeadRmsNorm(ctx(h)->stream, p<bf16>(out), ldo, p<bf16>(x), ldx, p<bf16>(w), rows, heads, headDim, eps);
  launched(env, "headRmsNorm kernel");
}

JNI(void, routerLogits)(JNIEnv* env, jclass, jlong h, jlong logits, jlong x, jint ldx, jlong w, jint rows,
                        jint hidden, jint experts) {
  launchRouterLogits(ctx(h)->stream, p<float>(logits), p<bf16>(x), ldx, p<float>(w), rows, hidden, experts);
  launched(env, "routerLogits kernel");
}

JNI(jboolean, groupedGemv)(JNIEnv* env, jclass, jlong h, jlong y, jlong x, jlong w, jlong expertIds, jlong offsets,
                           jint groups, jint in, jint out) {
  if (!launchGroupedGemv(ctx(h)->stream, p<bf16>(y), p<bf16>(x), p<bf16>(w), p<int>(expertIds), p<int>(offsets),
                         groups, in, out)) {
    return JNI_FALSE;
  }
  return launched(env, "groupedGemv kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(void, moeCombine)(JNIEnv* env, jclass, jlong h, jlong out, jint ldo, jlong d, jlong rowOf, jlong weight,
                      jint rows, jint k, jint hidden) {
  launchMoeCombine(ctx(h)->stream, p<bf16>(out), ldo, p<bf16>(d), p<int>(rowOf), p<float>(weight), rows, k, hidden);
  launched(env, "moeCombine kernel");
}


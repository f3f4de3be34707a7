// JNI entry points of io.autoglm.cuda.CudaNative for FP8 (E4M3, block-scaled) weights: raw uploads, quantization at
// load, and the linears (small-batch FP8 GEMVs; dequantization to a bf16 scratch + cuBLAS for larger batches).
#include "bridge.cuh"

static Fp8Mat fp8Mat(jlong q, jlong s, jint sld, jint rowShift, jint colShift) {
  return Fp8Mat{p<uint8_t>(q), p<float>(s), sld, rowShift, colShift};
}

/** Copies `bytes` bytes from a direct (mapped) buffer to dst as they are, through the two pinned staging buffers. */
JNI(void, uploadRaw)(JNIEnv* env, jclass, jlong h, jlong dst, jobject src, jlong bytes) {
  Context* c = ctx(h);
  const char* in = (const char*)env->GetDirectBufferAddress(src);
  if (in == nullptr) { throwIse(env, "uploadRaw: source is not a direct buffer"); return; }
  if (env->GetDirectBufferCapacity(src) < bytes) {
    char buf[160];
    snprintf(buf, sizeof buf, "uploadRaw: source holds %lld bytes, %lld requested", (long long)env->GetDirectBufferCapacity(src),
             (long long)bytes);
    throwIse(env, buf);
    return;
  }
  size_t chunk = c->stagingBytes;
  char* out = p<char>(dst);
  int which = 0;
  for (size_t from = 0; from < (size_t)bytes; from += chunk, which ^= 1) {
    size_t n = bytes - from < chunk ? bytes - from : chunk;
    CK(cudaEventSynchronize(c->stagingDone[which]), "cudaEventSynchronize(staging)", );
    memcpy(c->staging[which], in + from, n);
    CK(cudaMemcpyAsync(out + from, c->staging[which], n, cudaMemcpyHostToDevice, c->stream), "cudaMemcpyAsync(uploadRaw)", );
    CK(cudaEventRecord(c->stagingDone[which], c->stream), "cudaEventRecord", );
  }
  CK(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize(uploadRaw)", );
}

JNI(void, quantizeFp8)(JNIEnv* env, jclass, jlong h, jlong q, jlong scales, jlong w, jint rows, jint cols, jint br,
                       jint bc) {
  launchQuantizeFp8(ctx(h)->stream, p<uint8_t>(q), p<float>(scales), p<bf16>(w), rows, cols, br, bc);
  launched(env, "quantizeFp8 kernel");
}

JNI(void, dequantFp8)(JNIEnv* env, jclass, jlong h, jlong out, jlong q, jlong s, jint sld, jint rowShift,
                      jint colShift, jint rows, jint cols) {
  launchDequantFp8(ctx(h)->stream, p<bf16>(out), fp8Mat(q, s, sld, rowShift, colShift), rows, cols);
  launched(env, "dequantFp8 kernel");
}

/**
 * y (rows, out) = x (rows, in) · Wᵀ (+ bias) for an FP8 W: the FP8 GEMV for rows <= 8 when allowed; from actMinRows
 * rows (0: never) the FP8 × FP8 cuBLASLt GEMM with x quantized into `scratch` (gemm_fp8_lt.cu) where it applies; the
 * tensor-core FP8 GEMM for rows <= mmaMaxRows; else W dequantized into `scratch` (out · in bf16) and cuBLAS.
 */
JNI(void, linearFp8)(JNIEnv* env, jclass, jlong h, jlong y, jint ldy, jboolean f32Out, jlong x, jint ldx, jlong q,
                     jlong s, jint sld, jint rowShift, jint colShift, jlong bias, jint rows, jint in, jint out,
                     jboolean allowGemv, jint mmaMaxRows, jint actMinRows, jlong scratch, jlong scratchBytes) {
  Context* c = ctx(h);
  Fp8Mat w = fp8Mat(q, s, sld, rowShift, colShift);
  if (allowGemv && launchGemvFp8(c->stream, p<void>(y), ldy, f32Out, p<bf16>(x), ldx, w, p<bf16>(bias), rows, in,
                                 out)) {
    launched(env, "gemvFp8 kernel");
    return;
  }
  if (!f32Out && actMinRows > 0 && rows >= actMinRows &&
      fp8LtRun(c, p<bf16>(y), ldy, p<bf16>(x), ldx, w, p<bf16>(bias), rows, in, out, p<void>(scratch),
               (size_t)scratchBytes)) {
    launched(env, "FP8 x FP8 cuBLASLt GEMM");
    return;
  }
  if (!f32Out && rows <= mmaMaxRows && launchGemmFp8(c->stream, p<bf16>(y), ldy, p<bf16>(x), ldx, w, p<bf16>(bias),
                                                     rows, in, out)) {
    launched(env, "gemmFp8 kernel");
    return;
  }
  if (scratch == 0) { throwIse(env, "linearFp8: no dequantization scratch for a cuBLAS linear"); return; }
  launchDequantFp8(c->stream, p<bf16>(scratch), w, out, in);
  if (!launched(env, "dequantFp8 kernel")) return;
  gemmBf16(env, c, p<void>(y), ldy, f32Out, p<void>(x), ldx, p<void>(scratch), p<bf16>(bias), rows, in, out);
}

JNI(jboolean, linearSiluMulFp8)(JNIEnv* env, jclass, jlong h, jlong y, jlong x, jint ldx, jlong q, jlong s, jint sld,
                                jint rowShift, jint colShift, jint rows, jint in, jint inter) {
  if (!launchGemvSiluFp8(ctx(h)->stream, p<bf16>(y), p<bf16>(x), ldx, fp8Mat(q, s, sld, rowShift, colShift), rows, in,
                         inter)) {
    return JNI_FALSE;
  }
  return launched(env, "gemvSiluFp8 kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(jboolean, linearQkvRopeFp8)(JNIEnv* env, jclass, jlong h, jlong qOut, jlong x, jint ldx, jlong q, jlong s,
                                jint sld, jint rowShift, jint colShift, jlong bias, jint rows, jint in, jlong kc,
                                jlong vc, jlong slots, jlong pos, jlong inv, jint heads, jint kvHeads, jint headDim,
                                jint rot, jboolean fp8Kv) {
  Fp8Mat w = fp8Mat(q, s, sld, rowShift, colShift);
  bool ok = fp8Kv ? launchGemvQkvRopeFp8(ctx(h)->stream, p<bf16>(qOut), p<bf16>(x), ldx, w, p<bf16>(bias), rows, in,
                                         p<kv8>(kc), p<kv8>(vc), p<int>(slots), p<int>(pos), p<float>(inv), heads,
                                         kvHeads, headDim, rot)
                  : launchGemvQkvRopeFp8(ctx(h)->stream, p<bf16>(qOut), p<bf16>(x), ldx, w, p<bf16>(bias), rows, in,
                                         p<bf16>(kc), p<bf16>(vc), p<int>(slots), p<int>(pos), p<float>(inv), heads,
                                         kvHeads, headDim, rot);
  if (!ok) return JNI_FALSE;
  return launched(env, "qkvFp8+rope kernel") ? JNI_TRUE : JNI_FALSE;
}

JNI(jboolean, groupedGemvFp8)(JNIEnv* env, jclass, jlong h, jlong y, jlong x, jlong q, jlong s, jlong sStride,
                              jint sld, jint rowShift, jint colShift, jlong expertIds, jlong offsets, jint groups,
                              jint in, jint out) {
  if (!launchGroupedGemvFp8(ctx(h)->stream, p<bf16>(y), p<bf16>(x), fp8Mat(q, s, sld, rowShift, colShift), sStride,
                            p<int>(expertIds), p<int>(offsets), groups, in, out)) {
    return JNI_FALSE;
  }
  return launched(env, "groupedGemvFp8 kernel") ? JNI_TRUE : JNI_FALSE;
}

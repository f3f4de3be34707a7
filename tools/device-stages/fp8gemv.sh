# fp8gemv: the tensor-core FP8 GEMVs (cuda.fp8GemvTc; gemv_fp8_mma.cu) against the scalar ones. Fp8GemvMmaCheck, one
# process: per variant the e4m3 decoding exactly, the GEMV vs a double reference, the fused SiLU·mul / QKV + RoPE bit
# for bit against the unfused ops (rows 1..8); GPU µs per launch at glm-4-9b shapes (rows 1, 2, 4, 8) against the
# scalar FP8 GEMV and the bf16 GEMV; decode tok/s of glm-4-9b-chat (random, FP8 quantized at load) with either GEMV,
# and bf16.
echo "== fp8gemv: Fp8GemvMmaCheck"
timeout ${FP8GEMV_TIMEOUT:-300} $J -Xmx24g ${CUDA_OPTS:-} -Dbench.batches=${FP8GEMV_BATCHES:-1,2,4,8,16} \
  -cp "$CP" io.autoglm.cuda.tools.Fp8GemvMmaCheck /tmp/work 2>&1 | grep -v "^\[main\] INFO" > $OUT/fp8gemv.log
echo "Fp8GemvMmaCheck exit ${PIPESTATUS[0]}"
grep -E "^device|^fp8 gemv|^FP8GEMV|WARN|Exception|at io\.autoglm" $OUT/fp8gemv.log | cut -c1-900 | head -${FP8GEMV_TAIL:-90}
lap fp8gemv

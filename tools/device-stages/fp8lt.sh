# fp8lt: the FP8 × FP8 linears (cuda.fp8ActMinRows; gemm_fp8_lt.cu). Fp8LtCheck at glm-4-9b shapes, one process: the
# self-check (one line per weight shape, rows 3..2048: vs an fp64 reference on the quantized operands, the activation
# quantization vs a sequential recomputation, reruns bit-equal); GPU µs per call of FP8 × FP8 | the FP8 MMA kernel |
# dequantize + cuBLAS | bf16 cuBLAS; glm-4-9b-chat random bf16 weights, bf16 and quantized at load: last-row logits
# of a 512-token prompt per path (FP8 × FP8 within 1.5 × the FP8 weights' own error), decode tok/s and TTFT.
echo "== fp8lt: Fp8LtCheck"
timeout ${FP8LT_TIMEOUT:-280} $J -Xmx24g ${CUDA_OPTS:-} -Dbench.batches=${FP8LT_BATCHES:-16,64,256} \
  -cp "$CP" io.autoglm.cuda.tools.Fp8LtCheck /tmp/work 2>&1 | grep -v "^\[main\] INFO" > $OUT/fp8lt.log
echo "Fp8LtCheck exit ${PIPESTATUS[0]}"
grep -E "^device|fp8 x fp8|^fp8 |^FP8LT|WARN|Exception|at io\.autoglm" $OUT/fp8lt.log \
  | sed -E 's/: prefill [0-9]+×128 tokens in [0-9.]+ s \([0-9]+ tok\/s\); decode 64 steps at context ~[0-9]+//' \
  | cut -c1-700 | head -${FP8LT_TAIL:-80}
lap fp8lt

# gemmtune: the bf16 GEMM paths (cuda.gemm = cublas | lt | lt-tuned; gemm_lt.cu). GemmTuneBench at glm-4-9b-chat
# shapes, random weights, one process: the cuBLASLt self-check (one PASS/FAIL line per weight shape, rows 9..2048: Lt
# heuristic #0 and the tuned choice vs cublasGemmEx, bias epilogue vs gemmEx + fp32 bias, vs fp64 samples, reruns
# bit-equal); GPU µs per GEMM of cublasGemmEx / Lt #0 / Lt tuned per shape and row count (TB/s or TFLOP/s, the tuned
# index of how many); decode tok/s at GEMMTUNE_BATCHES and the 1,024-token TTFT per cuda.gemm value.
echo "== gemmtune: GemmTuneBench"
timeout ${GEMMTUNE_TIMEOUT:-200} $J -Xmx24g ${CUDA_OPTS:-} -Dbench.batches=${GEMMTUNE_BATCHES:-16,64,256} \
  -Dbench.gemmModes=${GEMMTUNE_MODES:-cublas,lt,lt-tuned} -cp "$CP" io.autoglm.cuda.tools.GemmTuneBench /tmp/work 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/gemmtune.log
echo "GemmTuneBench exit ${PIPESTATUS[0]}"
grep -E "^device|cuBLASLt self-check|^gemm |^gemm summary|^batch|^TTFT|WARN|Exception|at io\.autoglm" $OUT/gemmtune.log \
  | sed -e 's/: prefill [0-9]*×128 tokens in [0-9.]* s ([0-9]* tok\/s); decode 64 steps at context ~[0-9]*//' \
  | cut -c1-400 | head -${GEMMTUNE_TAIL:-110}
lap gemmtune

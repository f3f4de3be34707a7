# gemvtc: the tensor-core GEMV of 2..8 rows (cuda.gemvTc). GemvTcBench at glm-4-9b-chat shapes, random bf16 weights
# in host memory, one process: the self-check (vs the CPU reference and the in-split GEMV, rerun, SiLU·mul == GEMV +
# siluMul; one line per shape); GPU µs + TB/s per shape × rows 1..8 for the in-split GEMV | tensor-core GEMV |
# cuBLAS; decode tok/s at batch 1..8, 16 with cuda.gemvTc 0, 2, 5 and with cuBLAS only.
echo "== gemvtc: GemvTcBench"
timeout ${GEMVTC_TIMEOUT:-200} $J -Xmx24g ${CUDA_OPTS:-} -Dbench.batches=${GEMVTC_BATCHES:-1,2,3,4,5,6,7,8,16} \
  -Dbench.gemvTcs=${GEMVTC_VALUES:-0,2,5} -cp "$CP" io.autoglm.cuda.tools.GemvTcBench /tmp/work 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/gemvtc.log
echo "GemvTcBench exit ${PIPESTATUS[0]}"
grep -E "gemvTc self-check|^gemv|^decode,|^batch|FAIL|Exception|at io\.autoglm" $OUT/gemvtc.log \
  | sed -E 's/: prefill [0-9]+×128 tokens in [0-9.]+ s \([0-9]+ tok\/s\); decode 64 steps at context ~[0-9]+//' \
  | cut -c1-260 | head -${GEMVTC_TAIL:-120}
lap gemvtc

# attn2: tuning the tensor-core decode attention (cuda.decodeAttnTc). DecodeAttnBench -Dbench.tune=true at
# glm-4-9b-chat shapes, random bf16 in host memory, one process (DecodeAttnTuning): per variant (warps per block) the
# self-check vs the decode kernels and the CPU reference (summary + any FAIL line); the kernel alone, GPU µs per layer
# at 8..256 rows for each graph split target, vs the decode kernels at their graph splits, and the best (variant,
# target) by 64 + 256 rows; the end-to-end check with it; the per-op attention line at batch 64 / 256 per variant and
# off; decode tok/s at ATTN2_BATCHES with the best forced on vs off (the cuda.decodeAttnTc threshold).
echo "== attn2: DecodeAttnBench -Dbench.tune=true"
timeout ${ATTN2_TIMEOUT:-230} $J -Xmx16g ${CUDA_OPTS:-} -Dbench.tune=true -Dbench.profileBatches=${ATTN2_PROFILE:-64,256} \
  -Dbench.batches=${ATTN2_BATCHES:-8,16,32,64,128,256} -cp "$CP" io.autoglm.cuda.tools.DecodeAttnBench /tmp/work 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/attn2.log
echo "DecodeAttnBench exit ${PIPESTATUS[0]}"
grep -E "self-check (PASS|FAIL)|FAIL|^kernel|^end-to-end|^decode attention \(tensor cores\) (end|batched)|^profile of|^profile:|^ *attention|^decode,|^batch|Exception|at io\.autoglm" \
  $OUT/attn2.log | grep -v "self-check headDim.*PASS$" | cut -c1-300 | head -${ATTN2_TAIL:-90}
lap attn2

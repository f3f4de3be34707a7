# decattn: the tensor-core decode attention (cuda.decodeAttnTc). (1) CudaBench verify with it forced on
# (cuda.decodeAttnTc=1): the fixtures (headDim 16, which the kernel does not serve: they check the fallback) and
# every kernel self-check, this kernel's included (DecodeAttnTcSelfCheck: vs the decode kernels and the CPU reference).
# (2) DecodeAttnBench at glm-4-9b-chat shapes, random bf16 in host memory, one process: the end-to-end check (batch 64
# logits vs the decode kernels, batched == single), then per DECATTN_VALUES value (1,0 = forced on, off) the per-op
# profile at DECATTN_PROFILE batches (attention line) and batch 64 / 256 decode tok/s with CUDA graphs.
echo "== CudaBench verify, cuda.decodeAttnTc=1"
timeout ${DECATTN_VERIFY_TIMEOUT:-170} $J -Xmx8g ${CUDA_OPTS:-} -Dcuda.decodeAttnTc=1 -cp "$CP" \
  io.autoglm.cuda.tools.CudaBench verify "$here/fixtures" 2>&1 | grep -v "^\[main\] INFO" > $OUT/verify-decattn.log
echo "verify exit ${PIPESTATUS[0]}"
grep -E "^decode attention \(tensor cores\)|self-check (PASS|FAIL)|VERIFY|FAIL|Exception" $OUT/verify-decattn.log \
  | cut -c1-330 | tail -${DECATTN_VERIFY_TAIL:-30}
lap decattn-verify
echo "== DecodeAttnBench: cuda.decodeAttnTc ${DECATTN_VALUES:-1,0}, profiles at ${DECATTN_PROFILE:-64,256}, batch 64/256"
timeout ${DECATTN_TIMEOUT:-200} $J -Xmx16g -Dbench.decodeAttnTcs=${DECATTN_VALUES:-1,0} \
  -Dbench.profileBatches=${DECATTN_PROFILE:-64,256} -cp "$CP" io.autoglm.cuda.tools.DecodeAttnBench /tmp/work 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/decattn-bench.log
echo "DecodeAttnBench exit ${PIPESTATUS[0]}"
grep -E "^decode attention|^cuda.decodeAttnTc|^profile:|^attention|^sum of ops|^batch|Exception|FAIL|at io\.autoglm" \
  $OUT/decattn-bench.log | head -${DECATTN_TAIL:-40}

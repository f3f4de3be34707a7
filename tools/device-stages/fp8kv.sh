# fp8kv: the FP8 KV cache on the CUDA backend (autoglm.kvCacheDtype=fp8, admitted by -Dautoglm.cuda.fp8KvUnchecked).
# (1) ContractMain with the FP8 checks on: attention over the E4M3 cache against the bf16 cache holding the rounded
# keys and values (a 40-token prefill, then a decode step), glm4-tiny's logits against transformers', and the rest of
# the contract with the default cache; needs the bundle's lib-test/. (2) CudaBench bench single,batch at glm-4-9b-chat
# shapes with the bf16 and then the FP8 cache (FP8KV_WHICH, FP8KV_BATCHES).
echo "== fp8kv: ContractMain with the FP8 KV cache admitted"
mkdir -p /tmp/fx && ln -sfn "$here/fixtures" /tmp/fx/models
timeout ${FP8KV_CONTRACT_TIMEOUT:-240} $J -Xmx8g ${CUDA_OPTS:-} -Dautoglm.cuda.fp8KvUnchecked=true \
  -Dautoglm.fixtures=/tmp/fx -cp "$CP:$here/lib-test/*" io.autoglm.cuda.ContractMain 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/fp8kv-contract.log
echo "ContractMain exit ${PIPESTATUS[0]}"
grep -v "^SUCCESSFUL" $OUT/fp8kv-contract.log | cut -c1-600 | tail -${FP8KV_TAIL:-25}
lap fp8kv-contract
for dt in ${FP8KV_DTYPES:-auto fp8}; do
  echo "== fp8kv: CudaBench bench ${FP8KV_WHICH:-single,batch}, KV cache $dt"
  timeout ${FP8KV_TIMEOUT:-240} $J -Xmx16g ${CUDA_OPTS:-} -Dautoglm.cuda.fp8KvUnchecked=true -Dbench.kvCacheDtype=$dt \
    -Dbench.decodeBatches=${FP8KV_BATCHES:-64,256} -Dbench.onlyGraphs=true -Dbench.skip256=false \
    -cp "$CP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${FP8KV_WHICH:-single,batch} 2>&1 \
    | grep -v "^\[main\] INFO" > $OUT/fp8kv-bench-$dt.log
  echo "CudaBench exit ${PIPESTATUS[0]}"
  grep -E "^device|KV budget|tok/s|floor|WARN|Exception|at io\.autoglm" $OUT/fp8kv-bench-$dt.log | cut -c1-300 | head -30
  lap fp8kv-bench-$dt
done

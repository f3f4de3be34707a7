#!/usr/bin/env bash
# The GPU-machine run of a bundle made by tools/cuda-bundle.sh. STAGES (comma list): verify (CudaBench verify per
# attention kernel), conf (EngineBench conformance), old (CudaBench bench with the jars in lib-old/, for A/B against
# an earlier build), new (CudaBench bench: profile, single, ttft, batch), big (CudaBench bench at GLM-4-32B-0414 shapes,
# weights random in host memory), engine (EngineBench engine: throughput and
# the 1,000-request leak rounds), swap (SwapBench: a hot swap under load, device bytes back to one model), tp (EngineBench tp: tensor parallelism over NCCL on TP GPUs), peer (torch_peer.py),
# hf (hf_baseline.py), contract (the backend contract and this module's tests on the CUDA backend: JUnit through
# io.autoglm.cuda.ContractMain, with lib-test/), oldverify (CudaBench verify with lib-old/'s jars, then a diff against the verify stage's log:
# identical logs mean every printed error, margin and self-check count is the same). Knobs: the ${...:-default} below; CUDA_OPTS (e.g. "-Dcuda.fuse=7") goes to the verify and conf
# JVMs. The tools live in lib/autoglm-cuda-bench-*.jar (io.autoglm.cuda.tools); lib-old/ holds an earlier build's
# autoglm-core and autoglm-cuda jars, whose io.autoglm.cuda.tools are in the cuda jar itself (lib-old/REVISION).
# sampling (SamplingBench all: logprobs and penalties vs the CPU references, 100 constrained requests per schema,
# batch-64 tok/s with logprobs, penalties and a mask).
# prefill (the tensor-core prefill attention: CudaBench verify with -Dcuda.prefillAttn per PREFILL_VERIFY, then CudaBench
# bench ttft,prefill: TTFT, GEMM rate and a per-op prefill profile per PREFILL_ATTNS value, 16,0 = new kernel, old).
# serve (the sample app on the CUDA backend + bench-serve over HTTP, then bench-serve --direct with the same
# settings; its bundle is tools/cuda-bundle-serve.sh's, not this one's).
# overhead (EngineBench overhead: the engine's cost over the direct path, steady all-decode tok/s at 1/64/256 and
# end-to-end 256 x 128/128, delivery thread vs inline; knobs OVERHEAD_DELIVERY, OVERHEAD_BUDGETS, OVERHEAD_BATCHES,
# OVERHEAD_WARMUP: seconds of warm-up rounds per batch before its window, default 6, so the host code is JIT-compiled;
# OVERHEAD_QUANT=fp8: the checkpoint quantized to FP8 at load; OVERHEAD_KV=fp8: an FP8 KV cache, admitted by
# -Dautoglm.cuda.fp8KvUnchecked=true in the same JVM).
# moe (MoeBench check and bench: MoE routing on the device against the host plan, graph-captured MoE decode equal to
# eager, and GLM-4.5-Air-shaped decode tok/s against the active-parameter floor; knobs MOE_LAYERS, MOE_PROFILE).
# fp8verify (Fp8Check verify: the FP8 kernel self-checks; per fixture the CUDA runs in bf16, quantized at load and from
# the host-quantized FP8 checkpoint, against the CPU's dequantized references fp8ref-NAME.bin of the bundle).
# fp8 (CudaBench bench in bf16 and FP8 in one process at glm-4-9b-chat shapes, weights random in host memory: tok/s,
# TTFT, each precision's HBM floor, and the FP8/bf16 ratios). air (the same at GLM-4.5-Air full shapes in FP8).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
untar() { tar -C "$2" -xf "$1" 2>/dev/null || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; }
mkdir -p /tmp/rt && if [[ -f $here/jre.txz ]]; then untar "$here/jre.txz" /tmp/rt; else tar -C /tmp/rt -xzf "$here/jre.tgz"; fi
J=/tmp/rt/jre/bin/java
CP="$here/lib/*"
# the old jars: lib-old/'s autoglm-core and autoglm-cuda, then lib/'s third-party jars (none of lib/'s autoglm-*)
OLDCP="$here/lib-old/*:$(ls "$here"/lib/*.jar 2>/dev/null | grep -v "/autoglm-" | tr '\n' ':')"
ST=",${STAGES:-verify,conf,old,new},"
echo "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
s=$(date +%s)
lap() { echo "== $1 took $(( $(date +%s) - s )) s"; s=$(date +%s); }
mkdir -p /tmp/work
if [[ $ST == *,verify,* ]]; then
  for a in ${VERIFY_ATTN:-2 1}; do
    echo "== CudaBench verify, attention $a"
    timeout ${VERIFY_TIMEOUT:-180} $J -Xmx8g ${CUDA_OPTS:-} -Dcuda.attnVariant=$a -Dcuda.attnSplitHeads=${VERIFY_SPLIT:-true} -cp "$CP" io.autoglm.cuda.tools.CudaBench verify "$here/fixtures" 2>&1 \
      | grep -v "^\[main\] INFO" | tee $OUT/verify-attn-$a.log | tail -${VERIFY_TAIL:-8}
    lap verify
  done
fi
if [[ $ST == *,oldverify,* ]]; then
  for a in ${VERIFY_ATTN:-2 1}; do
    echo "== OLD jars: CudaBench verify, attention $a"
    timeout ${VERIFY_TIMEOUT:-180} $J -Xmx8g ${CUDA_OPTS:-} -Dcuda.attnVariant=$a -Dcuda.attnSplitHeads=${VERIFY_SPLIT:-true} -cp "$OLDCP" io.autoglm.cuda.tools.CudaBench verify "$here/fixtures" 2>&1 \
      | grep -v "^\[main\] INFO" > $OUT/verify-old-attn-$a.log
    tail -2 $OUT/verify-old-attn-$a.log
    if [[ -f $OUT/verify-attn-$a.log ]]; then
      if diff $OUT/verify-old-attn-$a.log $OUT/verify-attn-$a.log > $OUT/verify-diff-attn-$a.txt; then
        echo "verify logs of old and new jars, attention $a: IDENTICAL ($(wc -l < $OUT/verify-attn-$a.log) lines)"
      else
        echo "verify logs of old and new jars, attention $a: DIFFER ($(grep -c '^[<>]' $OUT/verify-diff-attn-$a.txt) lines, verify-diff-attn-$a.txt):"
        head -20 $OUT/verify-diff-attn-$a.txt
      fi
    fi
    lap old-verify
  done
fi
if [[ $ST == *,contract,* ]]; then
  echo "== BackendContract on the CUDA backend (ContractMain)"
  mkdir -p /tmp/fx && ln -sfn "$here/fixtures" /tmp/fx/models
  timeout ${CONTRACT_TIMEOUT:-240} $J -Xmx8g ${CUDA_OPTS:-} -Dautoglm.fixtures=/tmp/fx -cp "$CP:$here/lib-test/*" \
    io.autoglm.cuda.ContractMain 2>&1 | grep -v "^\[main\] INFO" > $OUT/contract.log
  grep -v "^SUCCESSFUL" $OUT/contract.log | tail -${CONTRACT_TAIL:-30}
  lap contract
fi
if [[ $ST == *,conf,* ]]; then
  echo "== EngineBench conformance"
  timeout ${CONF_TIMEOUT:-150} $J -Xmx8g ${CUDA_OPTS:-} -DrouteRefDir="$here" -DrouteOutDir=${ROUTE_OUT:-/tmp} -cp "$CP" \
    io.autoglm.cuda.tools.EngineBench conformance "$here/fixtures" 2>&1 | grep -v "^\[main\] INFO" > $OUT/conformance.log
  tail -${CONF_TAIL:-6} $OUT/conformance.log
  lap conformance
fi
if [[ $ST == *,old,* ]]; then
  echo "== OLD jars ($(cat "$here/lib-old/REVISION" 2>/dev/null || echo "lib-old/")): CudaBench bench ${OLD_WHICH:-single,batch}"
  timeout ${OLD_TIMEOUT:-150} $J -Xmx16g -Dbench.gemvVariants=${OLD_GEMV:-1} -Dbench.onlyGraphs=true -Dbench.skip256=${OLD_SKIP256:-true} \
    -cp "$OLDCP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${OLD_WHICH:-single,batch} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/bench-old.log
  lap old-bench
fi
if [[ $ST == *,new,* ]]; then
  echo "== NEW jars: CudaBench bench ${NEW_WHICH:-profile,single,batch}"
  timeout ${NEW_TIMEOUT:-240} $J -Xmx16g -Dbench.gemvVariants=${GEMV:-1} -Dbench.pdlModes=${PDL_MODES:-true,false} -Dbench.fuseMasks=${FUSE_MASKS:-1,0} -Dbench.skipOps="${SKIP_OPS:-}" -Dbench.splitHeads=${SPLIT_HEADS:-true,false} -Dbench.attnVariants=${ATTN:-2,1} -Dbench.onlyGraphs=true \
    -Dbench.skip256=${NEW_SKIP256:-true} -Dbench.inMemory=${NEW_IN_MEMORY:-false} -cp "$CP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${NEW_WHICH:-profile,single,batch} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/bench-new.log
  lap new-bench
fi
if [[ $ST == *,big,* ]]; then
  echo "== CudaBench bench ${BIG_WHICH:-single,batch} at ${BIG_MODEL:-glm-4-32b-0414} shapes"
  timeout ${BIG_TIMEOUT:-300} $J -Xmx16g -Dbench.model=${BIG_MODEL:-glm-4-32b-0414} -Dbench.skip256=${BIG_SKIP256:-true} \
    -Dbench.arenaBytes=${BIG_ARENA:-17179869184} \
    -Dbench.onlyGraphs=true -cp "$CP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${BIG_WHICH:-single,batch} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/bench-big.log
  lap big-bench
fi
if [[ $ST == *,engine,* ]]; then
  echo "== EngineBench engine"
  timeout ${ENGINE_TIMEOUT:-200} $J -Xmx16g -cp "$CP" io.autoglm.cuda.tools.EngineBench engine /tmp/work 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/engine.log | tail -${ENGINE_TAIL:-30}
  lap engine
fi
if [[ $ST == *,swap,* ]]; then
  echo "== SwapBench: hot swap of two glm-4-9b-shaped instances under 32 clients"
  timeout ${SWAP_TIMEOUT:-420} $J -Xmx16g -cp "$CP" io.autoglm.cuda.tools.SwapBench /tmp/work 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/swap.log | tail -${SWAP_TAIL:-6}
  lap swap
fi
if [[ $ST == *,engine-old,* ]]; then
  echo "== OLD jars (main before this branch): EngineBench engine"
  timeout ${ENGINE_TIMEOUT:-200} $J -Xmx16g -cp "$OLDCP" io.autoglm.cuda.tools.EngineBench engine /tmp/work 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/engine-old.log | tail -${ENGINE_TAIL:-30}
  lap engine-old
fi
if [[ $ST == *,tp,* ]]; then
  # NVLink multicast stays off on these shared machines (device README)
  export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
  nccl=${NCCL_PATH:-$(ldconfig -p 2>/dev/null | awk '/libnccl\.so\.2 /{print $NF; exit}')}
  if [[ -z $nccl ]]; then
    nccl=$(python3 -c "import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'lib', 'libnccl.so.2'))" 2>/dev/null)
  fi
  echo "== EngineBench tp ${TP_WHAT:-conf,speed,large} (TP=${TP:-2}, graphs ${TP_GRAPHS:-true}, NCCL ${nccl:-not found})"
  timeout ${TP_TIMEOUT:-420} $J -Xmx16g -Dtp=${TP:-2} -Dgraphs=${TP_GRAPHS:-true} -Dcuda.ncclPath="$nccl" -cp "$CP" \
    io.autoglm.cuda.tools.EngineBench tp "$here/fixtures" /tmp/work ${TP_WHAT:-conf,speed,large} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/tp.log | tail -${TP_TAIL:-60}
  lap tp
fi
if [[ $ST == *,sampling,* ]]; then
  echo "== SamplingBench ${SAMPLING_WHAT:-all}"
  # the tokenizers binding unpacks its (CPU) native library into DJL_CACHE_DIR; offline: it never downloads
  DJL_OFFLINE=true RUST_FLAVOR=cpu DJL_CACHE_DIR=/tmp/djl timeout ${SAMPLING_TIMEOUT:-290} $J -Xmx16g -cp "$CP" \
    io.autoglm.cuda.tools.SamplingBench ${SAMPLING_WHAT:-all} ${SAMPLING_ARGS:-"$here/fixtures" "$here/tokenizer" /tmp/work} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/sampling.log | tail -${SAMPLING_TAIL:-30}
  lap sampling
fi
if [[ $ST == *,peer,* ]]; then
  echo "== torch_peer.py 256 ${PEER_BATCHES:-1,64,256}"
  (cd "$here" && timeout ${PEER_TIMEOUT:-300} python3 torch_peer.py 256 ${PEER_BATCHES:-1,64,256} 2>&1 | grep -v Warning | tee $OUT/peer.log | tail -8)
  lap peer
fi
if [[ $ST == *,hf,* ]]; then
  echo "== hf_baseline.py ${HF_WHICH:-eager1 eager64}"
  (cd "$here" && timeout ${HF_TIMEOUT:-150} python3 hf_baseline.py ${HF_WHICH:-eager1 eager64} 2>&1 | grep -v Warning | tee $OUT/hf.log | tail -8)
  lap hf
fi
if [[ $ST == *,serve,* ]]; then
  S="${SERVE_SETTINGS:---num-requests 128 --max-concurrency 32 --prompt-len 512 --output-len 128 --ignore-eos --seed 1 --warmup 16 --no-progress}"
  M=/tmp/work/glm-4-9b-chat-random
  echo "== serve: sample app, CUDA backend, random glm-4-9b-chat checkpoint; bench-serve $S"
  mkdir -p /tmp/serve/lib && untar "$here/serve.txz" /tmp/serve
  # the bundle's classes, back into jars (stored), so multi-release jars and jar-only lookups behave as shipped
  python3 - /tmp/serve/x /tmp/serve/lib <<'PY'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    root = os.path.join(src, name)
    with zipfile.ZipFile(os.path.join(out, name + ".jar"), "w", zipfile.ZIP_STORED) as z:
        mf = os.path.join(root, "META-INF", "MANIFEST.MF")
        if os.path.exists(mf):
            z.write(mf, "META-INF/MANIFEST.MF")
        for d, _, files in os.walk(root):
            for f in files:
                p = os.path.join(d, f)
                rel = os.path.relpath(p, root).replace(os.sep, "/")
                if rel != "META-INF/MANIFEST.MF":
                    z.write(p, rel)
PY
  SCP="/tmp/serve/lib/*"
  # the CLI runs on the app's classpath, whose SLF4J binding is Logback: without a configuration it logs DEBUG
  printf '%s\n' '<configuration><appender name="E" class="ch.qos.logback.core.ConsoleAppender"><target>System.err</target>' \
    '<encoder><pattern>%level %logger{20} %msg%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="E"/></root></configuration>' \
    > /tmp/serve/logback-cli.xml
  CLI=(-Dlogback.configurationFile=/tmp/serve/logback-cli.xml -cp "$SCP" io.autoglm.examples.cli.AutoGLMCli)
  export DJL_OFFLINE=true DJL_CACHE_DIR=/tmp/djl RUST_FLAVOR=cpu # the tokenizer jar holds CPU natives only
  [[ -f $M/model.safetensors ]] || timeout ${SERVE_WRITE_TIMEOUT:-150} $J -cp "$SCP" io.autoglm.cuda.tools.WriteRandomCheckpoint $M
  lap serve-checkpoint
  $J -Xmx16g -cp "$SCP" io.autoglm.examples.spring.GlmServerApplication --server.port=18080 --autoglm.model-path=$M \
    --autoglm.tokenizer-path=/tmp/serve/glm-4-9b-chat-hf --autoglm.backend=cuda ${SERVE_APP_ARGS:-} > $OUT/serve-app.log 2>&1 &
  app=$!
  python3 - <<'PY'
import time, urllib.request
for _ in range(600):
    try:
        if urllib.request.urlopen("http://127.0.0.1:18080/actuator/health/readiness", timeout=2).status == 200:
            print("app ready"); break
    except Exception:
        pass
    time.sleep(0.25)
else:
    print("app NOT ready after 150 s")
PY
  grep -m1 "loaded " $OUT/serve-app.log
  lap serve-start
  timeout ${SERVE_TIMEOUT:-100} $J "${CLI[@]}" bench-serve --url http://127.0.0.1:18080 $S \
    --json $OUT/serve-http.json 2>&1 | tee $OUT/serve-http.txt | grep -E "Successful|Failed req|duration|Output token thr|Mean TTFT|P99 TTFT|Mean TPOT|P99 ITL"
  python3 -c 'import json, urllib.request; print("server engine:", json.load(urllib.request.urlopen("http://127.0.0.1:18080/actuator/autoglm"))["engine"])'
  kill $app; wait $app
  lap serve-http
  timeout ${SERVE_DIRECT_TIMEOUT:-150} $J -Xmx16g "${CLI[@]}" bench-serve --direct $M --backend cuda \
    --tokenizer /tmp/serve/glm-4-9b-chat-hf $S --json $OUT/serve-direct.json 2>&1 | grep -v "^\[main\] INFO" \
    | tee $OUT/serve-direct.txt | grep -E "Successful|Failed req|duration|Output token thr|Mean TTFT|P99 TTFT|Mean TPOT|P99 ITL|^engine:"
  lap serve-direct
fi
if [[ $ST == *,overhead,* ]]; then
  # EngineBench overhead: engine vs direct (steady all-decode tok/s at each batch, to set against the `new` stage's
  # CudaBench batch lines), end-to-end 256 x 128/128 (ids, then streaming text with the bundle's tokenizer), for each
  # delivery mode (thread: listeners on the delivery thread; inline: on the engine thread, as before) and budget
  echo "== EngineBench overhead: delivery ${OVERHEAD_DELIVERY:-thread,inline}, maxBatchTokens ${OVERHEAD_BUDGETS:-2048}, batches ${OVERHEAD_BATCHES:-1,64,256}"
  DJL_OFFLINE=true RUST_FLAVOR=cpu DJL_CACHE_DIR=/tmp/djl timeout ${OVERHEAD_TIMEOUT:-420} $J -Xmx16g \
    -Doverhead.delivery=${OVERHEAD_DELIVERY:-thread,inline} -Doverhead.maxBatchTokens=${OVERHEAD_BUDGETS:-2048} \
    -Doverhead.batches=${OVERHEAD_BATCHES:-1,64,256} -Doverhead.steadyPrompt=${OVERHEAD_PROMPT:-96} \
    -Doverhead.warmupSeconds=${OVERHEAD_WARMUP:-6} -Doverhead.quantization=${OVERHEAD_QUANT:-} \
    -Doverhead.kvCacheDtype=${OVERHEAD_KV:-} -Dautoglm.cuda.fp8KvUnchecked=${OVERHEAD_KV:+true} -cp "$CP" \
    io.autoglm.cuda.tools.EngineBench overhead /tmp/work ${OVERHEAD_TOKENIZER-"$here/tokenizer"} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/overhead.log | grep -E "^(steady|end-to-end|loaded|wrote|PASS|FAIL|Exception)|Error" | tail -${OVERHEAD_TAIL:-40}
  lap overhead
fi
if [[ $ST == *,prefill,* ]]; then
  # the tensor-core prefill attention (cuda.prefillAttn): verify (fixtures + every kernel self-check, the prefill
  # kernel's included) per PREFILL_VERIFY value, then TTFT and a per-op profile of one PREFILL_TOKENS-token prefill
  # step per PREFILL_ATTNS value (0 = the decode kernels on every row), each against the GEMM rate of this process
  for v in ${PREFILL_VERIFY-16}; do  # PREFILL_VERIFY= (empty) skips it
    echo "== CudaBench verify, cuda.prefillAttn=$v"
    timeout ${PREFILL_VERIFY_TIMEOUT:-300} $J -Xmx8g ${CUDA_OPTS:-} -Dcuda.prefillAttn=$v -cp "$CP" io.autoglm.cuda.tools.CudaBench verify "$here/fixtures" 2>&1 \
      | grep -v "^\[main\] INFO" > $OUT/verify-prefill-$v.log
    grep -E "^prefill attention|^row kernels self-check|self-check (PASS|FAIL)|PASS$|FAIL" $OUT/verify-prefill-$v.log | grep -v "^attention self-check headDim" | tail -${PREFILL_VERIFY_TAIL:-80}
    lap prefill-verify
  done
  echo "== CudaBench bench ${PREFILL_WHICH:-ttft,prefill}: cuda.prefillAttn ${PREFILL_ATTNS:-16,0}, prefill profile of ${PREFILL_TOKENS:-1024} tokens"
  timeout ${PREFILL_TIMEOUT:-300} $J -Xmx16g -Dbench.prefillAttns=${PREFILL_ATTNS:-16,0} -Dbench.profilePrefill=${PREFILL_TOKENS:-1024} \
    -Dbench.inMemory=${PREFILL_IN_MEMORY:-false} -cp "$CP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${PREFILL_WHICH:-ttft,prefill} 2>&1 \
    | grep -v "^\[main\] INFO" > $OUT/bench-prefill.log
  tail -${PREFILL_TAIL:-90} $OUT/bench-prefill.log
  lap prefill-bench
fi
if [[ $ST == *,moe,* ]]; then
  # MoE with the routing on the device (moe_route.cu): MoeBench check (the device routing against the host plan on
  # the same logits; a graph-captured MoE decode step equal to its eager warm-up bit for bit, per MoE fixture and at
  # GLM-4.5-Air shapes), then MoeBench bench (GLM-4.5-Air shapes, MOE_LAYERS layers of random bf16 weights in host
  # memory: batch 1 and 64 decode, graphs + device routing vs eager + device / host routing, against the
  # active-parameter floor; per-op profiles in moe-bench.log unless MOE_PROFILE=false)
  echo "== MoeBench check"
  timeout ${MOE_CHECK_TIMEOUT:-240} $J -Xmx16g ${CUDA_OPTS:-} -cp "$CP" io.autoglm.cuda.tools.MoeBench check "$here/fixtures" 2>&1 \
    | grep -v "^\[main\] INFO" > $OUT/moe-check.log
  grep -E "FAIL|Exception|self-check PASS|graph check|moe check|MOE " $OUT/moe-check.log | tail -${MOE_CHECK_TAIL:-30}
  lap moe-check
  echo "== MoeBench bench ${MOE_LAYERS:-24} (GLM-4.5-Air shapes)"
  timeout ${MOE_TIMEOUT:-420} $J -Xmx${MOE_HEAP:-16g} ${CUDA_OPTS:-} -Dmoe.profile=${MOE_PROFILE:-true} -cp "$CP" \
    io.autoglm.cuda.tools.MoeBench bench ${MOE_LAYERS:-24} 2>&1 | grep -v "^\[main\] INFO" > $OUT/moe-bench.log
  grep -E "^(device|loaded|batch|moe decode|decode graphs|MOE )|Exception|FAIL" $OUT/moe-bench.log | tail -${MOE_TAIL:-30}
  lap moe-bench
fi
if [[ $ST == *,fp8verify,* ]]; then
  echo "== Fp8Check verify: FP8 kernel self-checks, then per fixture CUDA bf16 / quantized at load / FP8 checkpoint vs the CPU's dequantized reference (fp8ref-*.bin)"
  timeout ${FP8VERIFY_TIMEOUT:-300} $J -Xmx8g ${CUDA_OPTS:-} -cp "$CP" io.autoglm.cuda.tools.Fp8Check verify "$here/fixtures" "$here" 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/fp8verify.log | tail -${FP8VERIFY_TAIL:-40}
  lap fp8verify
fi
if [[ $ST == *,fp8,* ]]; then
  echo "== CudaBench bench ${FP8_WHICH:-single,ttft,batch} at ${FP8_MODEL:-glm-4-9b-chat} shapes, precisions ${FP8_PRECISIONS:-bf16,fp8} in one process (ratios at the end)"
  timeout ${FP8_TIMEOUT:-480} $J -Xmx16g -Dbench.model=${FP8_MODEL:-glm-4-9b-chat} -Dbench.precisions=${FP8_PRECISIONS:-bf16,fp8} \
    -Dbench.inMemory=${FP8_IN_MEMORY:-true} -Dbench.skip256=${FP8_SKIP256:-false} -Dbench.onlyGraphs=true ${FP8_OPTS:-} \
    -cp "$CP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${FP8_WHICH:-single,ttft,batch} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/bench-fp8.log
  lap fp8-bench
fi
if [[ $ST == *,air,* ]]; then
  echo "== CudaBench bench ${AIR_WHICH:-single,batch} at GLM-4.5-Air full shapes (46 layers, 128 experts top-8), ${AIR_PRECISIONS:-fp8} random in host memory"
  timeout ${AIR_TIMEOUT:-540} $J -Xmx24g -Dbench.model=glm-4.5-air -Dbench.precisions=${AIR_PRECISIONS:-fp8} \
    -Dbench.skip256=${AIR_SKIP256:-true} -Dbench.onlyGraphs=true ${AIR_OPTS:-} \
    -cp "$CP" io.autoglm.cuda.tools.CudaBench bench /tmp/work ${AIR_WHICH:-single,batch} 2>&1 \
    | grep -v "^\[main\] INFO" | tee $OUT/bench-air.log
  lap air-bench
fi
# plug-in stages: tools/device-stages/NAME.sh (bundled as stages/NAME.sh) is sourced when STAGES names NAME; it sees
# J, CP, here, OUT and lap like the stages above (one file per stage, so that branches adding stages do not collide)
for f in "$here"/stages/*.sh; do
  [[ -f $f ]] || continue
  n=$(basename "$f" .sh)
  if [[ $ST == *,$n,* ]]; then echo "== stage $n"; source "$f"; lap "$n"; fi
done
echo "== done"

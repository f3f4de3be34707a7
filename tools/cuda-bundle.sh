#!/usr/bin/env bash
# Builds the bundle for a GPU-machine run (which has no Java and no network) into an ignored folder DIR of this
# repository (default .cuda-run; name it in the device tool's `carry`):
#   DIR/jre.tgz      a jlink'd runtime of this machine's JDK (java.base, java.logging, java.management, jdk.unsupported)
#   DIR/lib/         autoglm-core, autoglm-cuda (with its nvcc fat binary), autoglm-cuda-bench (the device tools:
#                    CudaBench, EngineBench, …) and their runtime dependencies (no DJL)
#   DIR/lib-test/    the test classes of autoglm-core and autoglm-cuda with JUnit, for the `contract` stage
#                    (io.autoglm.cuda.ContractMain: the backend contract on the CUDA backend)
#   DIR/lib-old/     only with OLD_REV=<commit>: autoglm-core and autoglm-cuda built from that commit of this
#                    repository (in a scratch clone) with the same runtime dependencies, for the `old` stage's A/B
#                    (the old jars still hold io.autoglm.cuda.tools.CudaBench)
#   DIR/fixtures/    the four tiny model fixtures and those of EXTRA_FIXTURES (fixture directories, space-separated)
#   DIR/route-cpu-NAME.txt   the CPU backend's MoE routing trace of each MoE fixture (route-cpu.txt: glm4moe-tiny's)
#   DIR/fp8ref-NAME.bin      the CPU backend's logits of each fixture with FP8-quantized, dequantized linears (Fp8Check)
#   DIR/fp8route-NAME.txt    the MoE routing trace of that CPU run, per MoE fixture (Fp8Check compares under it)
#   DIR/f32ref-NAME.bin, DIR/f32route-NAME.txt  the same of the unquantized checkpoint in fp32 (Fp8Check: the bf16
#                            spread its FP8 bound is measured from)
#   DIR/*.py         the peers of ../shared/bench
#   DIR/tokenizer/   GLM-4's tiktoken tokenizer.model and configs (no chat template), for SamplingBench
#   DIR/run.sh       tools/cuda-device-run.sh
#   DIR/stages/      tools/device-stages/*.sh, the plug-in stages run.sh sources by name
# Usage: [OLD_REV=commit] bash tools/cuda-bundle.sh [DIR]   then on the device: STAGES=verify,conf,old,new bash DIR/run.sh
# DIR relative to this repository's root, or absolute.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
case "${1:-.cuda-run}" in
  /*) dir="$1" ;;
  *) dir="$root/${1:-.cuda-run}" ;;
esac
shared="$root/../shared"
cd "$root"
rm -rf "$dir" && mkdir -p "$dir/lib" "$dir/lib-test" "$dir/all"
# a reactor build, no install (the local Maven repository is shared by several trees): the modules' jars come from
# their target/ folders, their third-party runtime dependencies from copy-dependencies
mvn -B -ntp -q -pl autoglm-cuda-bench -am package dependency:copy-dependencies -DskipTests -DincludeScope=test \
  -DexcludeGroupIds=io.autoglm -DoutputDirectory="$dir/all"
for m in autoglm-core autoglm-testkit autoglm-cuda autoglm-cuda-bench; do
  cp $(ls "$m"/target/$m-*.jar | grep -v -- '-tests\.jar$') "$dir/all/"
done
cp autoglm-core/target/autoglm-core-*-tests.jar autoglm-cuda/target/autoglm-cuda-*-tests.jar "$dir/lib-test/"
# the GPU side needs no DJL, tokenizer or template jars: keep the engine's runtime only
for j in autoglm- gson- slf4j-api- caffeine- micrometer- HdrHistogram- LatencyUtils-; do cp "$dir"/all/$j*.jar "$dir/lib/" 2>/dev/null || true; done
rm -f "$dir"/lib/micrometer-registry-*.jar # a test-scope dependency of core (copy-dependencies ran with scope test)
for j in junit- opentest4j- apiguardian-; do cp "$dir"/all/$j*.jar "$dir/lib-test/" 2>/dev/null || true; done
# the sampling stage's extras: the HuggingFace tokenizers binding (its linux-x86_64 library only) for structured
# output with the real GLM-4 tokenizer, and the JSON Schema validator SamplingBench checks the output with
for j in api-0 tokenizers- jna- commons-compress- json-schema-validator- itu- jackson-core-3 jackson-databind-3 \
    jackson-dataformat-yaml-3 jackson-annotations- snakeyaml-engine-; do
  cp "$dir"/all/$j*.jar "$dir/lib/" 2>/dev/null || true
done
zip -q -d "$dir"/lib/tokenizers-*.jar 'native/lib/linux-aarch64/*' 'native/lib/osx-*' 'native/lib/win-*' >/dev/null || true
"${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.unsupported,java.xml \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$dir/jre"
tar -C "$dir" -czf "$dir/jre.tgz" jre && rm -rf "$dir/jre"
mkdir -p "$dir/fixtures"
for m in glm-tiny glm4-tiny glm4-tiny-bf16 glm4moe-tiny; do cp -r "$shared/fixtures/models/$m" "$dir/fixtures/"; done
for f in ${EXTRA_FIXTURES:-}; do cp -r "$f" "$dir/fixtures/"; done
# GLM-4's tokenizer in its tiktoken form (2.6 MB), without the chat template (completions need none, and the bundle
# carries no Jinja engine)
mkdir -p "$dir/tokenizer"
cp "$shared/fixtures/tokenizers/glm-4-9b-chat/tokenizer.model" "$shared/fixtures/tokenizers/glm-4-9b-chat/generation_config.json" "$dir/tokenizer/"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c.pop("chat_template",None); json.dump(c,open(sys.argv[2],"w"))' \
  "$shared/fixtures/tokenizers/glm-4-9b-chat/tokenizer_config.json" "$dir/tokenizer/tokenizer_config.json"
# the CPU backend's routing traces of the MoE fixtures, which EngineBench conformance compares the GPU's with
for f in "$dir"/fixtures/*/; do
  m="$(basename "$f")"
  grep -q '"n_routed_experts"' "$f/config.json" || continue
  DJL_OFFLINE=true java -cp "$dir/all/*" io.autoglm.cuda.tools.EngineBench route "$f" cpu "$dir/route-cpu-$m.txt" | tail -1
done
cp "$dir/route-cpu-glm4moe-tiny.txt" "$dir/route-cpu.txt"
# the CPU backend's logits of each fixture with its linears FP8-quantized on the host and dequantized (fp8verify)
for f in "$dir"/fixtures/*/; do
  DJL_OFFLINE=true java -cp "$dir/all/*" io.autoglm.cuda.tools.Fp8Check reference "$f" "$dir/fp8ref-$(basename "$f").bin" | tail -1
done
rm -rf "$dir/all"
if [[ -n "${OLD_REV:-}" ]]; then
  old="$(mktemp -d)"
  git clone -q "$root" "$old/src" && git -C "$old/src" checkout -q "$OLD_REV"
  (cd "$old/src" && mvn -B -ntp -q -pl autoglm-cuda -am package -DskipTests)
  # only the two module jars: the old stages put lib/'s third-party jars after them (the carry limit is 64 MiB)
  mkdir -p "$dir/lib-old"
  for m in autoglm-core autoglm-cuda; do
    cp $(ls "$old/src/$m"/target/$m-*.jar | grep -v -- '-tests\.jar$') "$dir/lib-old/"
  done
  git -C "$old/src" log -1 --format='lib-old/ built from %h %s' | tee "$dir/lib-old/REVISION"
  rm -rf "$old"
fi
cp "$shared/bench/torch_peer.py" "$shared/bench/hf_baseline.py" "$dir/"
cp tools/cuda-device-run.sh "$dir/run.sh"
mkdir -p "$dir/stages" && cp tools/device-stages/*.sh "$dir/stages/" 2>/dev/null || true
du -sh "$dir"

#!/usr/bin/env bash
# Builds the bundle for a GPU-machine run (which has no Java and no network) into an ignored folder DIR of this
# repository (default .cuda-run; name it in the device tool's `carry`):
#   DIR/jre.tgz      a jlink'd runtime of this machine's JDK (java.base, java.logging, java.management, jdk.unsupported)
#   DIR/lib/         autoglm-core, autoglm-cuda (with its nvcc fat binary) and their runtime dependencies (no DJL)
#   DIR/fixtures/    the four tiny model fixtures and those of EXTRA_FIXTURES (fixture directories, space-separated)
#   DIR/route-cpu-NAME.txt   the CPU backend's MoE routing trace of each MoE fixture (route-cpu.txt: glm4moe-tiny's)
#   DIR/*.py         the peers of ../shared/bench
#   DIR/run.sh       tools/cuda-device-run.sh
# Usage: bash tools/cuda-bundle.sh [DIR]   then on the device: STAGES=verify,conf,engine,new,peer,hf bash DIR/run.sh
# DIR relative to this repository's root, or absolute.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
case "${1:-.cuda-run}" in
  /*) dir="$1" ;;
  *) dir="$root/${1:-.cuda-run}" ;;
esac
shared="$root/../shared"
cd "$root"
mvn -B -ntp -q -pl autoglm-cuda -am install -DskipTests # core, testkit (Conformance for the tools), cuda
rm -rf "$dir" && mkdir -p "$dir/lib" "$dir/all"
mvn -B -ntp -q -pl autoglm-cuda dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/all"
# this tree's own module jars: the local Maven repository is shared, and another tree's install may have replaced
# its copies between the install above and copy-dependencies
for m in autoglm-core autoglm-testkit autoglm-cuda; do
  cp $(ls "$m"/target/$m-*.jar | grep -v -- '-tests\.jar$') "$dir/all/"
done
# the GPU side needs no DJL, tokenizer or template jars: keep the engine's runtime only
for j in autoglm- gson- slf4j- caffeine- micrometer- HdrHistogram- LatencyUtils-; do cp "$dir"/all/$j*.jar "$dir/lib/" 2>/dev/null || true; done
"${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.unsupported \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$dir/jre"
tar -C "$dir" -czf "$dir/jre.tgz" jre && rm -rf "$dir/jre"
mkdir -p "$dir/fixtures"
for m in glm-tiny glm4-tiny glm4-tiny-bf16 glm4moe-tiny; do cp -r "$shared/fixtures/models/$m" "$dir/fixtures/"; done
for f in ${EXTRA_FIXTURES:-}; do cp -r "$f" "$dir/fixtures/"; done
# the CPU backend's routing traces of the MoE fixtures, which EngineBench conformance compares the GPU's with
for f in "$dir"/fixtures/*/; do
  m="$(basename "$f")"
  grep -q '"n_routed_experts"' "$f/config.json" || continue
  DJL_OFFLINE=true java -cp "$dir/all/*" io.autoglm.cuda.tools.EngineBench route "$f" cpu "$dir/route-cpu-$m.txt" | tail -1
done
cp "$dir/route-cpu-glm4moe-tiny.txt" "$dir/route-cpu.txt"
rm -rf "$dir/all"
cp "$shared/bench/torch_peer.py" "$shared/bench/hf_baseline.py" "$dir/"
cp tools/cuda-device-run.sh "$dir/run.sh"
du -sh "$dir"

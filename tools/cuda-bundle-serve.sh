#!/usr/bin/env bash
# The bundle of the device's `serve` stage (tools/cuda-device-run.sh): the sample app (examples/spring-app) with the
# CUDA backend and bench-serve, without DJL's PyTorch (the CUDA backend needs none of it). Into an ignored folder DIR:
#   DIR/jre.txz    a jlink'd runtime with the modules Spring Boot needs (java.desktop for java.beans, java.naming,
#                  java.sql, java.xml, java.net.http for bench-serve, ...), jlink-uncompressed then xz'd (18.0 MB;
#                  jlink's own compression leaves xz little: 29.5 MB)
#   DIR/serve.txz  the app's runtime jars less pytorch-*, plus autoglm-cuda, the examples CLI and picocli, each
#                  unpacked (xz compresses classes across jars: 25 MB with the tokenizer files, against 57 MB of jars) with the DJL tokenizer
#                  jar's natives cut to linux-x86_64; the device zips them back into jars (python3, stored)
#                  and the glm-4-9b-chat tokenizer files (from ../shared/fixtures/tokenizers)
#   DIR/run.sh     tools/cuda-device-run.sh
# About 43 MB in all, a bundle of its own: beside tools/cuda-bundle.sh's it would leave the device's 64 MiB
# working-tree limit a few MiB (sizes in docs/benchmarks.md).
# Usage: bash tools/cuda-bundle-serve.sh [DIR]   then on the device: STAGES=serve bash DIR/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
case "${1:-.cuda-run-serve}" in
  /*) dir="$1" ;;
  *) dir="$root/${1:-.cuda-run-serve}" ;;
esac
shared="$root/../shared"
jdk="${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"
cd "$root"
mvn -B -ntp -q -pl autoglm-cuda-bench -am install -DskipTests
mvn -B -ntp -q -pl examples,examples/spring-app -am package -DskipTests
rm -rf "$dir" && mkdir -p "$dir/build/x"
b="$dir/build"
unzip -q examples/spring-app/target/autoglm-spring-app.jar 'BOOT-INF/*' -d "$b/boot"
jars=("$b"/boot/BOOT-INF/lib/*.jar)
jars+=($(ls autoglm-cuda/target/autoglm-cuda-*.jar | grep -v -- '-tests\.jar$'))
# FastRandomCheckpoint, which WriteRandomCheckpoint calls, lives in the device tools' jar
jars+=($(ls autoglm-cuda-bench/target/autoglm-cuda-bench-*.jar | grep -v -- '-tests\.jar$'))
jars+=($(ls examples/target/autoglm-examples-*.jar | grep -v -- '-tests\.jar$'))
picocli=$(sed -n "s:.*<picocli.version>\(.*\)</picocli.version>.*:\1:p" pom.xml)
jars+=($(ls ~/.m2/repository/info/picocli/picocli/${picocli:-*}/picocli-*.jar | grep -v sources | tail -1))
for j in "${jars[@]}"; do
  n=$(basename "$j" .jar)
  case "$n" in pytorch-*) continue ;; esac
  mkdir "$b/x/$n" && unzip -q "$j" -d "$b/x/$n"
done
rm -rf "$b"/x/tokenizers-*/native/lib/{linux-aarch64,osx-aarch64,osx-x86_64,win-x86_64}
mkdir -p "$b/x/app-classes" && cp -r "$b"/boot/BOOT-INF/classes/. "$b/x/app-classes/"
mkdir -p "$b/x/serve-tools"
"$jdk/bin/javac" -d "$b/x/serve-tools" -cp "$b/x/autoglm-core-0.1.0-SNAPSHOT:$(ls -d "$b"/x/autoglm-cuda-* | tr '\n' ':')" \
  tools/serve/WriteRandomCheckpoint.java
mkdir -p "$b/tok/glm-4-9b-chat-hf"
cp "$shared"/fixtures/tokenizers/glm-4-9b-chat-hf/{tokenizer.json,tokenizer_config.json,generation_config.json} \
  "$b/tok/glm-4-9b-chat-hf/"
tar -C "$b" -cf - x -C "$b/tok" glm-4-9b-chat-hf | xz -6 -T2 > "$dir/serve.txz"
"$jdk/bin/jlink" --add-modules java.base,java.desktop,java.instrument,java.logging,java.management,java.naming,java.net.http,java.security.jgss,java.sql,java.xml,jdk.crypto.ec,jdk.management,jdk.unsupported \
  --strip-debug --no-header-files --no-man-pages --compress=0 --output "$b/jre"
tar -C "$b" -cf - jre | xz -6 -T2 > "$dir/jre.txz"
rm -rf "$b"
cp tools/cuda-device-run.sh "$dir/run.sh"
ls -l "$dir"
du -sh "$dir"

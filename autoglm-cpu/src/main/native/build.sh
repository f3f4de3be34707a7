#!/usr/bin/env bash
# Builds libautoglm_cpu.so into $1/<os>-<arch>/ with JNI headers from JDK $2, using g++ (or $CXX).
# On x86-64 kernels.cpp is compiled three times, for the dispatch levels chosen at run time by CPUID:
#   avx512: AVX-512 F/BW/VL + AVX512_BF16 + AVX512_VNNI + F16C (Sapphire Rapids, Zen 4 and later)
#   avx2:   AVX2 + FMA + F16C (Haswell, Zen 1 and later)
#   scalar: the x86-64 baseline (SSE2), any x86-64 CPU
# On aarch64 (or any other architecture) only the scalar level is compiled, for that architecture.
# Without a C++ compiler it says so and exits 0: the jar then has no native library and the cpu-native backend
# reports itself unavailable, naming the cause.
set -euo pipefail
out="$1"; jdk="$2"; src="$(cd "$(dirname "$0")" && pwd)"
cxx="${CXX:-g++}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "[autoglm-cpu] $cxx not found (set CXX or install g++): building WITHOUT the native library"
  exit 0
fi
case "$(uname -m)" in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  *) arch="$(uname -m)" ;;
esac
dir="$out/linux-$arch"
lib="$dir/libautoglm_cpu.so"
mkdir -p "$dir"
if [[ -f "$lib" ]] && [[ -z "$(find "$src" -newer "$lib" -type f)" ]]; then
  echo "[autoglm-cpu] $lib is up to date"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
common=(-O3 -std=c++17 -fPIC -fno-math-errno -fvisibility=hidden -Wall -Wno-unused-function -Wno-maybe-uninitialized -Wno-uninitialized
  "-I$jdk/include" "-I$jdk/include/linux")
cc() { "$cxx" "${common[@]}" "$@"; }
objs=(); pids=()
cc -c "$src/runtime.cpp" -o "$tmp/runtime.o" & pids+=($!); objs+=("$tmp/runtime.o")
cc -c "$src/ops.cpp" -o "$tmp/ops.o" & pids+=($!); objs+=("$tmp/ops.o")
cc -c "$src/jni.cpp" -o "$tmp/jni.o" & pids+=($!); objs+=("$tmp/jni.o")
cc -c -DAGC_LEVEL=0 "$src/kernels.cpp" -o "$tmp/k0.o" & pids+=($!); objs+=("$tmp/k0.o")
if [[ "$arch" == x86_64 ]]; then
  cc -c -DAGC_LEVEL=1 -mavx2 -mfma -mf16c "$src/kernels.cpp" -o "$tmp/k1.o" & pids+=($!); objs+=("$tmp/k1.o")
  cc -c -DAGC_LEVEL=2 -mavx512f -mavx512bw -mavx512vl -mavx512bf16 -mavx512vnni -mfma -mf16c \
    "$src/kernels.cpp" -o "$tmp/k2.o" & pids+=($!); objs+=("$tmp/k2.o")
else
  cat > "$tmp/none.cpp" <<'EOF'
#include "common.h"
namespace agc { const Kernels* kernels_avx2() { return nullptr; } const Kernels* kernels_avx512() { return nullptr; } }
EOF
  cc -I"$src" -c "$tmp/none.cpp" -o "$tmp/none.o" & pids+=($!); objs+=("$tmp/none.o")
fi
for p in "${pids[@]}"; do wait "$p"; done
echo "[autoglm-cpu] linking ${#objs[@]} objects with $cxx ($arch)"
"$cxx" -shared -static-libstdc++ -static-libgcc -Wl,--no-undefined "${objs[@]}" -o "$lib" -lpthread
echo "[autoglm-cpu] built $lib"

#!/usr/bin/env bash
# Builds libautoglm_cuda.so (a fat binary for sm_80, sm_89 and sm_90a) into $1, with JNI headers from JDK $2.
# Without nvcc it says so and exits 0: the jar is then built without its native library, and the CUDA backend
# reports itself unavailable at run time.
set -euo pipefail
out="$1"; jdk="$2"; src="$(cd "$(dirname "$0")" && pwd)"
nvcc="${NVCC:-}"
if [[ -z "$nvcc" ]]; then
  for c in /usr/local/cuda/bin/nvcc "$(command -v nvcc || true)"; do
    if [[ -n "$c" && -x "$c" ]]; then nvcc="$c"; break; fi
  done
fi
if [[ -z "$nvcc" ]]; then
  echo "[autoglm-cuda] nvcc not found (set NVCC or install the CUDA toolkit): building WITHOUT the native library"
  exit 0
fi
lib="$out/libautoglm_cuda.so"
mkdir -p "$out"
if [[ -f "$lib" ]] && [[ -z "$(find "$src" -newer "$lib" -type f)" ]]; then
  echo "[autoglm-cuda] $lib is up to date"
  exit 0
fi
jni="-I$jdk/include -I$jdk/include/linux"
archs="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90a,code=sm_90a"
echo "[autoglm-cuda] compiling CUDA kernels with $nvcc (sm_80, sm_89, sm_90a)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$nvcc" -c -O3 -std=c++17 -Xcompiler -fPIC $archs -diag-suppress 177 "$src/kernels.cu" -o "$tmp/kernels.o" &
"$nvcc" -c -O3 -std=c++17 -Xcompiler -fPIC $jni $archs "$src/bridge.cu" -o "$tmp/bridge.o" &
"$nvcc" -c -O3 -std=c++17 -Xcompiler -fPIC $jni $archs "$src/sampling_ext.cu" -o "$tmp/sampling_ext.o" &
wait -n && wait -n && wait -n
"$nvcc" -shared -cudart static $archs "$tmp/kernels.o" "$tmp/bridge.o" "$tmp/sampling_ext.o" -o "$lib" -ldl
echo "[autoglm-cuda] built $lib"

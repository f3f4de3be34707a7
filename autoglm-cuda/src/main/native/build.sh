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
# AUTOGLM_CUDA_ARCHS="90a" (a space-separated list) builds fewer architectures for a quick local iteration; the
# released jar and the device bundles use all three.
archs=""
for a in ${AUTOGLM_CUDA_ARCHS:-80 89 90a}; do
  [[ "$a" =~ ^[0-9]+a?$ ]] || { echo "[autoglm-cuda] AUTOGLM_CUDA_ARCHS has \"$a\"; expected numbers like 80 89 90a" >&2; exit 1; }
  archs="$archs -gencode arch=compute_$a,code=sm_$a"
done
lib="$out/libautoglm_cuda.so"
mkdir -p "$out"
if [[ -f "$lib" ]] && [[ -z "$(find "$src" -newer "$lib" -type f)" ]] && [[ "$(cat "$lib.archs" 2>/dev/null)" == "$archs" ]]; then
  echo "[autoglm-cuda] $lib is up to date"
  exit 0
fi
jni="-I$jdk/include -I$jdk/include/linux"
echo "[autoglm-cuda] compiling $(ls "$src"/*.cu | wc -l) CUDA sources with $nvcc (sm_ ${AUTOGLM_CUDA_ARCHS:-80 89 90a})"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# one object per source file (kernel families, the JNI bridge, the self-tests), NVCC_JOBS at a time
export nvcc jni archs tmp
ls "$src"/*.cu | xargs -P "${NVCC_JOBS:-4}" -I{} bash -c \
  'f="{}"; "$nvcc" -c -O3 -std=c++17 -Xcompiler -fPIC $jni $archs -diag-suppress 177 "$f" -o "$tmp/$(basename "$f" .cu).o"'
"$nvcc" -shared -cudart static $archs "$tmp"/*.o -o "$lib" -ldl
echo "$archs" > "$lib.archs"
echo "[autoglm-cuda] built $lib"

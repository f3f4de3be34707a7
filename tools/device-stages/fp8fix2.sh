# fp8fix2: issue 25's FP8 conformance bound and the bf16 self-check uploads, compact PASS/FAIL lines (sourced by
# run.sh; J, CP, here, OUT, lap).
# (a) Fp8Check verify on the MoE fixtures plus glm4-tiny: FP8 on CUDA vs the CPU dequantized reference, held to
#     max(fixed tol, 1.5 x the bf16 spread: bf16 on CUDA vs CPU fp32 of the unquantized checkpoint, f32ref-NAME.bin);
# (b) CudaBench verify's bf16 kernel self-check lines (selftest.cu's fills and uploads now on the context's stream).
# Knobs: FP8FIX2_FIXTURES (names in fixtures/), FP8FIX2_TIMEOUT, FP8FIX2_VERIFY_TIMEOUT.
mkdir -p /tmp/fp8fix2-fx && rm -f /tmp/fp8fix2-fx/*
for n in ${FP8FIX2_FIXTURES:-glm4-tiny glm4moe-tiny glm4moe-gqa12 glm4moe-variant-tiny}; do
  [[ -d $here/fixtures/$n ]] && ln -sfn "$here/fixtures/$n" /tmp/fp8fix2-fx/$n || echo "fp8fix2: fixture $n not in the bundle (EXTRA_FIXTURES)"
done
echo "== fp8fix2 (a): Fp8Check verify on $(ls /tmp/fp8fix2-fx | tr '\n' ' ')"
timeout ${FP8FIX2_TIMEOUT:-100} $J -Xmx8g ${CUDA_OPTS:-} -cp "$CP" io.autoglm.cuda.tools.Fp8Check verify /tmp/fp8fix2-fx "$here" 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/fp8fix2-verify.log
echo "rc ${PIPESTATUS[0]}"
grep -E "^fp8 " $OUT/fp8fix2-verify.log | grep -c PASS | sed 's/^/fp8 kernel self-check lines PASS: /'
grep -E "^fp8 .*FAIL" $OUT/fp8fix2-verify.log | cut -c1-300
grep -E "fp8 kernel self-check|MoE on CUDA|FP8 checkpoint|quantized at load|FP8 VERIFY|Exception|Error" $OUT/fp8fix2-verify.log \
  | sed -E 's/\(token, MoE layer\) choices differ/choices differ/g; s/ downstream of a lower layer.s difference/ downstream/g' \
  | cut -c1-520 | tail -24
lap fp8fix2-verify
echo "== fp8fix2 (b): CudaBench verify on glm4-tiny (FP8 kernels off: (a) ran them), bf16 kernel self-check lines"
mkdir -p /tmp/fp8fix2-dense && ln -sfn "$here/fixtures/glm4-tiny" /tmp/fp8fix2-dense/glm4-tiny
timeout ${FP8FIX2_VERIFY_TIMEOUT:-75} $J -Xmx8g ${CUDA_OPTS:-} -Dverify.fp8=false -cp "$CP" io.autoglm.cuda.tools.CudaBench verify /tmp/fp8fix2-dense 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/fp8fix2-cudaverify.log
echo "rc ${PIPESTATUS[0]}"
grep -E "self-check|glm4-tiny.*(PASS|FAIL)|VERIFY|Exception|Error" $OUT/fp8fix2-cudaverify.log | cut -c1-240 | tail -30
lap fp8fix2-cudaverify

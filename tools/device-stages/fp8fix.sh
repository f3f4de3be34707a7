# fp8fix: the FP8 correctness fixes of issue 25, compact PASS/FAIL lines (sourced by run.sh; J, CP, here, OUT, lap).
# (a) the FP8 kernel self-checks (the GEMV's block vs per-row scales and rerun sub-checks, bit for bit);
# (b) Fp8Check on the MoE fixtures under the CPU reference's routing (fp8route-NAME.txt) plus glm4-tiny as a dense
#     control; (c) glm4moe-variant-tiny, whose host-quantized experts mix FP8 gate/up and bf16 down, loads and passes;
# (d) MoeBench check in FP8 (-Dmoe.precisions=fp8): a graph-captured FP8 MoE decode step == its eager warm-up.
# Knobs: FP8FIX_FIXTURES (names in fixtures/), FP8FIX_TIMEOUT, FP8FIX_MOE_TIMEOUT.
mkdir -p /tmp/fp8fix-fx && rm -f /tmp/fp8fix-fx/*
for n in ${FP8FIX_FIXTURES:-glm4-tiny glm4moe-tiny glm4moe-gqa12 glm4moe-variant-tiny}; do
  [[ -d $here/fixtures/$n ]] && ln -sfn "$here/fixtures/$n" /tmp/fp8fix-fx/$n || echo "fp8fix: fixture $n not in the bundle (EXTRA_FIXTURES)"
done
echo "== fp8fix (a)-(c): Fp8Check verify on $(ls /tmp/fp8fix-fx | tr '\n' ' ')"
timeout ${FP8FIX_TIMEOUT:-150} $J -Xmx8g ${CUDA_OPTS:-} -cp "$CP" io.autoglm.cuda.tools.Fp8Check verify /tmp/fp8fix-fx "$here" 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/fp8fix-verify.log
echo "rc ${PIPESTATUS[0]}"
# the GEMV lines carry 5 row counts each: print their verdicts and the per-row/rerun counts only
grep -E "^fp8 gemv" $OUT/fp8fix-verify.log | sed -E 's/vs double reference.*rows//; s/bf16-dequant [0-9]+ out, max [0-9.]+; //g'
grep -E "^fp8 (quantize|cuBLAS|tensor-core|gemvSilu|qkv|grouped)" $OUT/fp8fix-verify.log | grep -c PASS | sed 's/^/other fp8 kernel self-check lines PASS: /'
grep -E "^fp8 (quantize|cuBLAS|tensor-core|gemvSilu|qkv|grouped).*FAIL" $OUT/fp8fix-verify.log | cut -c1-300
grep -E "kernel self-check|FP8 MoE on CUDA|FP8 checkpoint|quantized at load|FP8 VERIFY|Exception|Error" $OUT/fp8fix-verify.log | cut -c1-600 | tail -30
lap fp8fix-verify
echo "== fp8fix (d): MoeBench check, FP8 (graph replay == eager bit for bit)"
timeout ${FP8FIX_MOE_TIMEOUT:-150} $J -Xmx16g ${CUDA_OPTS:-} -Dmoe.precisions=fp8 -cp "$CP" io.autoglm.cuda.tools.MoeBench check /tmp/fp8fix-fx 2>&1 \
  | grep -v "^\[main\] INFO" > $OUT/fp8fix-moe.log
echo "rc ${PIPESTATUS[0]}"
grep -E "moe graph check|moe check|MOE |self-check|Exception|Error" $OUT/fp8fix-moe.log | sed -E 's/; eager step without graphs/; eager/' | cut -c1-330 | tail -24

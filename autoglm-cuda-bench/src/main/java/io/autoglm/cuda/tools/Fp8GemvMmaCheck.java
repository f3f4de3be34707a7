package io.autoglm.cuda.tools;

import io.autoglm.cuda.CudaBackend;
import io.autoglm.cuda.CudaDiagnosticsAccess;
import io.autoglm.cuda.CudaSelfTests;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The tensor-core FP8 GEMVs ({@code cuda.fp8GemvTc}, gemv_fp8_mma.cu) against the scalar ones, one process:
 * {@code java ... Fp8GemvMmaCheck WORK_DIR}.
 *
 * <ol>
 *   <li>{@link #run}: per variant, the e4m3 decoding and column order exactly (one-hot inputs over every code and
 *       column, CudaSelfTests kind 7), the GEMV + bias against the double reference (kind 1) and the fused SiLU·mul
 *       and QKV + RoPE kernels against the GEMV + the unfused op bit for bit (kinds 3 and 4), rows 1..8. Also part of
 *       {@code Fp8Check verify}.
 *   <li>GPU µs per launch at glm-4-9b's shapes, rows 1, 2, 4, 8: tensor-core vs scalar FP8 GEMV, and the bf16
 *       in-split GEMV of the same shape, with the weight stream's TB/s.
 *   <li>glm-4-9b-chat with random bf16 weights quantized to FP8 at load: decode tok/s at {@code -Dbench.batches}
 *       (default 1,2,4,8,16) with the default {@code cuda.fp8GemvTc} (2), with the tensor-core FP8 GEMVs from 1 row,
 *       with the scalar ones only (0: up to {@code cuda.gemvMaxRows}), and the bf16 model's at the same batches.
 * </ol>
 */
final class Fp8GemvMmaCheck {
  /** A glm-4-9b linear: (out, in); mode 0 plain + bias, 1 gate_up + SiLU·mul, 2 fp32 out. */
  record Shape(String name, int out, int in, int mode) {}

  static final List<Shape> SHAPES = List.of(new Shape("qkv", 4608, 4096, 0), new Shape("o_proj", 4096, 4096, 2),
      new Shape("gate_up+silu", 27392, 4096, 1), new Shape("down", 4096, 13696, 2));
  private static final int ITERS = 50;

  private Fp8GemvMmaCheck() {}

  public static void main(String[] args) throws Exception {
    boolean ok;
    try (CudaBackend backend = CudaBench.backend(0.5, Map.of())) {
      System.out.println("device: " + backend.deviceDescription());
      ok = run(backend);
      table(backend);
    }
    model(Path.of(args.length > 0 ? args[0] : "/tmp/work"));
    System.out.println(ok ? "FP8GEMV PASS" : "FP8GEMV FAIL");
    System.exit(ok ? 0 : 1);
  }

  /** The self-checks of both kernels, one PASS/FAIL line each; the backend's own setting is restored after. */
  static boolean run(CudaBackend b) {
    boolean ok = true;
    int setting = CudaDiagnosticsAccess.fp8GemvTc(b);
    for (int minRows : new int[] {1, 0}) { // every row count on the tensor-core kernels, then on the scalar ones
      CudaDiagnosticsAccess.setFp8GemvTc(b, minRows);
      String v = minRows == 1 ? "tensor-core" : "scalar";
      StringBuilder line = new StringBuilder();
      boolean pass = true;
      for (int[] s : new int[][] {{256, 256}, {272, 300}, {4112, 48}}) {
        for (int rows : new int[] {1, 3, 8}) {
          double[] r = CudaSelfTests.fp8(b, 7, rows, s[0], s[1]);
          pass &= r.length == 2 && r[0] == 0 && r[1] > 0;
          line.append(String.format(" [in %d out %d rows %d: %.0f of %.0f]", s[0], s[1], rows, r[0],
              r.length > 1 ? r[1] : -1));
        }
      }
      ok &= pass;
      System.out.printf("fp8 gemv [%s] e4m3 decoding and column order, outputs differing from e4m3(q)·scale:%s  %s%n",
          v, line, pass ? "PASS" : "FAIL");
      // every in-split against the reference: 8 (out up to 4,096 tiles·warps), 4 (8,192 out: gemvVariant 1), 2
      // (27,392: gate_up's rows), 1 (40,000 and 80,000)
      for (int[] s : new int[][] {{4096, 1024}, {4096, 4608}, {4112, 2048}, {13696, 4096}, {272, 300}, {1024, 8192},
          {1024, 27392}, {1024, 40000}, {1024, 80000}}) {
        line = new StringBuilder();
        pass = true;
        for (int rows = 1; rows <= 8; rows++) {
          double[] r = CudaSelfTests.fp8(b, 1, rows, s[0], s[1]);
          pass &= r.length == 6 && r[0] == 0 && r[4] == 0 && r[5] == 0;
          line.append(String.format(Locale.ROOT, " [%d: %.0f out, max %.2f]", rows, r[0], r.length > 1 ? r[1] : -1));
        }
        ok &= pass;
        System.out.printf("fp8 gemv [%s] in %d, out %d vs double reference (2^-8|ref| + 1e-5 sum|wx|; per-row scales"
            + " and reruns bit-equal), rows%s  %s%n", v, s[0], s[1], line, pass ? "PASS" : "FAIL");
      }
      ok &= Fp8Check.bitwise(b, 3, "fp8 gemvSilu [" + v + "] in 4096, inter", new int[] {13696, 4096, 1000});
      ok &= Fp8Check.bitwise(b, 4, "fp8 qkv+rope [" + v + "] in 4096, heads", new int[] {32, 16});
    }
    CudaDiagnosticsAccess.setFp8GemvTc(b, setting);
    return ok;
  }

  /** GPU µs per launch, tensor-core | scalar FP8 GEMV | bf16 in-split GEMV, per shape and row count. */
  static void table(CudaBackend b) {
    int setting = CudaDiagnosticsAccess.fp8GemvTc(b);
    System.out.printf("fp8 gemv table: GPU µs per launch (%d, weight copies past L2), TB/s of the weight stream%n",
        ITERS);
    for (Shape s : SHAPES) {
      for (int rows : new int[] {1, 2, 4, 8}) {
        CudaDiagnosticsAccess.setFp8GemvTc(b, 1);
        double tc = CudaSelfTests.fp8GemvMicros(b, s.mode(), rows, s.in(), s.out(), ITERS);
        CudaDiagnosticsAccess.setFp8GemvTc(b, 0);
        double scalar = CudaSelfTests.fp8GemvMicros(b, s.mode(), rows, s.in(), s.out(), ITERS);
        int bf16Mode = s.mode() == 1 ? 2 : s.mode() == 2 ? 1 : 0; // timeGemvTc's modes: 1 fp32 out, 2 SiLU·mul
        double bf16 = CudaSelfTests.gemvMicros(b, 0, bf16Mode, s.mode() == 0, rows, s.in(), s.out(), ITERS);
        double bytes = (double) s.out() * s.in();
        System.out.printf(Locale.ROOT, "fp8 gemv %-12s r%d: tensor-core %6.1fus (%.2f TB/s) | scalar %6.1fus (%.2f"
                + " TB/s) | bf16 gemv %6.1fus (%.2f TB/s) | tensor-core vs scalar %.2fx, vs bf16 %.2fx%n", s.name(),
            rows, tc, bytes / tc / 1e6, scalar, bytes / scalar / 1e6, bf16, 2 * bytes / bf16 / 1e6, scalar / tc,
            bf16 / tc);
      }
    }
    CudaDiagnosticsAccess.setFp8GemvTc(b, setting);
  }

  /** Decode tok/s of glm-4-9b-chat in bf16 and in FP8 (quantized at load) with either FP8 GEMV. */
  static void model(Path work) throws Exception {
    Map<String, String> speed = new LinkedHashMap<>();
    Fp8LtCheck.eachPrecision(work, (precision, backend, d, c) -> {
      for (String mode : precision.equals("bf16") ? List.of("bf16") : List.of("fp8 cuda.fp8GemvTc=2 (default)",
          "fp8 cuda.fp8GemvTc=1", "fp8 cuda.fp8GemvTc=0 (scalar)")) {
        if (!mode.equals("bf16")) {
          CudaDiagnosticsAccess.setFp8GemvTc(backend, mode.charAt(mode.indexOf('=') + 1) - '0');
        }
        speed.put(mode, Fp8LtCheck.decodeSpeeds(d, c, new SplittableRandom(1), "1,2,4,8,16"));
      }
    });
    speed.forEach((mode, line) -> System.out.printf("fp8 gemv model [%s]: %s%n", mode, line));
  }
}

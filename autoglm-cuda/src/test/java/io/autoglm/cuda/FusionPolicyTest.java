package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * FusionPolicy against the kernels' limits as kernels.cuh states them: GEMV epilogues up to 8 rows; the fused
 * residual-norm prologue up to 4 rows, inputs a multiple of 8 and at most 8,192 wide, rows · in · 2 bytes within
 * 32 KiB of shared memory.
 */
class FusionPolicyTest {
  private static final FusionPolicy.Limits KERNELS_CUH = new FusionPolicy.Limits(8, 4, 32 << 10, 8192);

  /** The settings given, over GEMVs allowed up to the kernels' 8 rows with the tensor-core GEMV from 5. */
  private static FusionPolicy policy(String... kv) {
    String[] all = new String[kv.length + 4];
    all[0] = "cuda.gemvMaxRows";
    all[1] = "8";
    all[2] = "cuda.gemvTc";
    all[3] = "5";
    System.arraycopy(kv, 0, all, 4, kv.length);
    return defaults(all);
  }

  /** The settings given over the defaults. */
  private static FusionPolicy defaults(String... kv) {
    Map<String, String> p = new java.util.HashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      p.put(kv[i], kv[i + 1]);
    }
    return new FusionPolicy(CudaSettings.from(p), KERNELS_CUH);
  }

  @Test
  void theNormPrologueTakesAtMostFourRowsWhoseNormedInputFits32KiB() {
    FusionPolicy all = policy("cuda.fuse", "7");
    int mlp = CudaSettings.FUSE_MLP_NORM;
    assertTrue(all.norm(mlp, 4, 4096, 4096, false)); // 4 · 4096 · 2 = 32 KiB exactly
    assertFalse(all.norm(mlp, 5, 1024, 1024, false), "5 rows");
    assertTrue(all.norm(mlp, 2, 8192, 8192, false)); // the widest input, 32 KiB
    assertFalse(all.norm(mlp, 3, 8192, 8192, false), "3 · 8192 · 2 bytes > 32 KiB");
    assertFalse(all.norm(mlp, 1, 8200, 8200, false), "in 8200 > 8192");
    assertFalse(all.norm(mlp, 1, 4092, 4092, false), "in not a multiple of 8");
    assertFalse(all.norm(mlp, 1, 4096, 2048, false), "weight columns differ from the input");
    assertFalse(all.norm(mlp, 1, 4096, 4096, true), "the LM head writes fp32 logits");
  }

  @Test
  void onlyTheBitsOfCudaFuseFuseAndOnlyWithTheInSplitGemv() {
    assertFalse(policy().norm(CudaSettings.FUSE_MLP_NORM, 1, 4096, 4096, false), "default cuda.fuse = 1");
    FusionPolicy noTc = policy("cuda.gemvTc", "0");
    assertTrue(noTc.qkvRope(8, 4096, 4096, true, 128, 64, false, false), "without the TC GEMV: QKV + RoPE up to 8 rows");
    assertFalse(noTc.qkvRope(9, 4096, 4096, true, 128, 64, false, false), "9 rows");
    assertFalse(noTc.qkvRope(1, 4096, 4096, false, 128, 64, false, false), "neox-style RoPE is not fused");
    assertFalse(policy("cuda.fuse", "0").qkvRope(1, 4096, 4096, true, 128, 64, false, false));
    assertFalse(policy("cuda.fuse", "7", "cuda.gemvVariant", "0").norm(CudaSettings.FUSE_QKV_NORM, 1, 4096, 4096,
        false), "gemvVariant 0 has no in-split kernels");
    assertFalse(policy("cuda.gemv", "false").linearSiluMul(1, 4096, 8192, 4096, false, false));
    assertTrue(policy().linearSiluMul(8, 4096, 8192, 4096, false, false));
    assertFalse(policy().linearSiluMul(9, 4096, 8192, 4096, false, false), "9 rows go to cuBLAS");
    assertFalse(policy().linearSiluMul(1, 4096, 8191, 4096, false, false), "gate_up has an even row count");
  }

  @Test
  void theTensorCoreGemvTakesFromCudaGemvTcRowsUpToEightAndOnlyWithTheGemvOn() {
    FusionPolicy d = policy(); // cuda.gemvTc = 5
    for (int rows = 1; rows <= 9; rows++) {
      assertEquals(rows >= 5 && rows <= 8, d.gemvTc(rows), rows + " rows");
    }
    assertTrue(policy("cuda.gemvTc", "2").gemvTc(2));
    assertFalse(policy("cuda.gemvTc", "2").gemvTc(1));
    assertTrue(policy("cuda.gemvTc", "1").gemvTc(1));
    assertFalse(policy("cuda.gemvTc", "8").gemvTc(7));
    assertTrue(policy("cuda.gemvTc", "8").gemvTc(8));
    for (int rows = 1; rows <= 9; rows++) {
      assertFalse(policy("cuda.gemvTc", "0").gemvTc(rows), "0 = off, " + rows + " rows");
      assertFalse(policy("cuda.gemv", "false").gemvTc(rows), "cuda.gemv false: cuBLAS, " + rows + " rows");
    }
    // limits that stop the GEMVs below 8 rows stop the TC GEMV there too
    assertFalse(new FusionPolicy(CudaSettings.from(Map.of("cuda.gemvTc", "2", "cuda.gemvMaxRows", "8")),
        new FusionPolicy.Limits(4, 4, 32 << 10, 8192)).gemvTc(5));
    assertEquals("TC GEMV", d.gemvKind(5, false, false));
    assertEquals("GEMV", d.gemvKind(5, true, false), "FP8 weights keep the FP8 GEMV");
    assertEquals("GEMV", d.gemvKind(4, false, false));
    assertEquals("cuBLAS", d.gemvKind(9, false, false));
  }

  @Test
  void whereTheTensorCoreGemvTakesTheStepTheFusionsItLacksAreDeclined() {
    FusionPolicy d = policy();
    for (int rows = 1; rows <= 8; rows++) {
      assertEquals(rows < 5, d.qkvRope(rows, 4096, 4096, true, 128, 64, false, false), "bf16 QKV + RoPE, " + rows + " rows");
      assertTrue(d.qkvRope(rows, 4096, 4096, true, 128, 64, true, false), "FP8 weights keep their fused QKV, " + rows);
      assertTrue(d.linearSiluMul(rows, 4096, 8192, 4096, false, false), "the TC GEMV has SiLU·mul, " + rows + " rows");
    }
    FusionPolicy two = policy("cuda.fuse", "7", "cuda.gemvTc", "2");
    int mlp = CudaSettings.FUSE_MLP_NORM;
    int qkv = CudaSettings.FUSE_QKV_NORM;
    assertTrue(two.norm(mlp, 1, 4096, 4096, false), "1 row: the CUDA-core GEMV with its norm prologue");
    assertTrue(two.norm(qkv, 1, 4096, 4096, false));
    for (int rows = 2; rows <= 4; rows++) {
      assertFalse(two.norm(mlp, rows, 4096, 4096, false), rows + " rows take the TC GEMV: no norm prologue");
      assertFalse(two.norm(qkv, rows, 4096, 4096, false), rows + " rows take the TC GEMV: no norm prologue");
    }
    assertTrue(policy("cuda.fuse", "7", "cuda.gemvTc", "0").norm(mlp, 4, 4096, 4096, false));
    assertTrue(policy("cuda.fuse", "7").norm(mlp, 4, 4096, 4096, false), "gemvTc 5 leaves 4 rows fused");
  }

  @Test
  void byDefaultLinearsOfMoreThanTwoRowsLeaveTheGemvs() {
    FusionPolicy d = defaults();
    for (int rows = 1; rows <= 9; rows++) {
      assertEquals(rows <= 2, d.gemv(rows), "bf16 and FP8, " + rows + " rows");
      assertFalse(d.gemvTc(rows), "the tensor-core GEMV is off by default, " + rows + " rows");
      assertEquals(rows <= 2, d.linearSiluMul(rows, 4096, 8192, 4096, false, false), "SiLU·mul, " + rows);
      assertEquals(rows <= 2, d.qkvRope(rows, 4096, 4096, true, 128, 64, false, false), "bf16 QKV + RoPE, " + rows);
      assertEquals(rows <= 2, d.qkvRope(rows, 4096, 4096, true, 128, 64, true, false), "FP8 QKV + RoPE, " + rows);
      assertEquals(rows <= 2 ? "GEMV" : "cuBLAS", d.gemvKind(rows, false, false));
    }
    FusionPolicy fused = defaults("cuda.fuse", "7");
    assertTrue(fused.norm(CudaSettings.FUSE_MLP_NORM, 2, 4096, 4096, false));
    assertFalse(fused.norm(CudaSettings.FUSE_MLP_NORM, 3, 4096, 4096, false), "3 rows: cuBLAS, no norm prologue");
    assertTrue(defaults("cuda.gemvMaxRows", "4").gemv(4));
    assertFalse(defaults("cuda.gemvMaxRows", "4").gemv(5));
  }

  @Test
  void fp8WeightsOnTheTensorCoreFp8GemvKeepTheGemvsUpToEightRows() {
    FusionPolicy d = defaults(); // cuda.gemvMaxRows 2, cuda.fp8GemvTc 2
    for (int rows = 1; rows <= 9; rows++) {
      assertEquals(rows <= 8, d.gemv(rows, true), "FP8, 128-wide scale blocks, " + rows + " rows");
      assertEquals(rows <= 2, d.gemv(rows, false), "bf16 or narrower FP8 blocks, " + rows + " rows");
      assertEquals(rows <= 8, d.linearSiluMul(rows, 4096, 8192, 4096, false, true), "FP8 SiLU·mul, " + rows);
      assertEquals(rows <= 8, d.qkvRope(rows, 4096, 4096, true, 128, 64, true, true), "FP8 QKV + RoPE, " + rows);
      assertEquals(rows == 1 ? "GEMV" : rows <= 8 ? "TC FP8 GEMV" : "FP8 GEMM", d.gemvKind(rows, true, true));
    }
    FusionPolicy scalar = defaults("cuda.fp8GemvTc", "0");
    FusionPolicy fromFive = defaults("cuda.fp8GemvTc", "5");
    for (int rows = 1; rows <= 9; rows++) {
      assertEquals(rows <= 2, scalar.gemv(rows, true), "the scalar FP8 GEMVs follow cuda.gemvMaxRows, " + rows);
      assertEquals(rows <= 2 ? "GEMV" : "FP8 GEMM", scalar.gemvKind(rows, true, true));
      assertEquals(rows <= 2 || (rows >= 5 && rows <= 8), fromFive.gemv(rows, true), "fp8GemvTc 5, " + rows);
      assertFalse(defaults("cuda.gemv", "false").gemv(rows, true), "cuda.gemv false, " + rows + " rows");
    }
    assertFalse(new FusionPolicy(CudaSettings.from(Map.of()), new FusionPolicy.Limits(4, 4, 32 << 10, 8192))
        .gemv(5, true), "the kernels' own limit");
  }

  @Test
  void limitsMustBePositive() {
    var e = assertThrows(IllegalArgumentException.class, () -> new FusionPolicy.Limits(8, 0, 32768, 8192));
    assertTrue(e.getMessage().contains("normMaxRows 0"), e.getMessage());
  }

  @Test
  void theNativeLibraryReportsTheLimitsOfKernelsCuh() {
    assumeTrue(CudaNative.loadError().isEmpty(), "the native library did not load here");
    assertEquals(KERNELS_CUH, FusionPolicy.Limits.fromNative());
  }
}

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

  private static FusionPolicy policy(String... kv) {
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
    assertTrue(policy().qkvRope(8, 4096, 4096, true, 128, 64), "default: QKV + RoPE up to 8 rows");
    assertFalse(policy().qkvRope(9, 4096, 4096, true, 128, 64), "9 rows");
    assertFalse(policy().qkvRope(1, 4096, 4096, false, 128, 64), "neox-style RoPE is not fused");
    assertFalse(policy("cuda.fuse", "0").qkvRope(1, 4096, 4096, true, 128, 64));
    assertFalse(policy("cuda.fuse", "7", "cuda.gemvVariant", "0").norm(CudaSettings.FUSE_QKV_NORM, 1, 4096, 4096,
        false), "gemvVariant 0 has no in-split kernels");
    assertFalse(policy("cuda.gemv", "false").linearSiluMul(1, 4096, 8192, 4096, false));
    assertTrue(policy().linearSiluMul(8, 4096, 8192, 4096, false));
    assertFalse(policy().linearSiluMul(9, 4096, 8192, 4096, false), "9 rows go to cuBLAS");
    assertFalse(policy().linearSiluMul(1, 4096, 8191, 4096, false), "gate_up has an even row count");
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

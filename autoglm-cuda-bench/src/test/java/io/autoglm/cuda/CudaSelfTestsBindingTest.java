package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import org.junit.jupiter.api.Test;

/**
 * The self-tests' JNI entry points, declared by this jar's CudaSelfTests, bind to the backend's own library (loaded
 * by CudaNative from the autoglm-cuda jar): the split-package seam works. The kernel naming needs no device, so this
 * runs wherever the library loads; the expected kernels are planAttention's documented rules under the default
 * settings (chunked attention, a block per KV head for 32 or more (token, KV head) pairs).
 */
class CudaSelfTestsBindingTest {
  private static String kernel(int rows, int heads, int kvHeads, int headDim) throws Exception {
    Method m = CudaSelfTests.class.getDeclaredMethod("attentionKernelName", int.class, int.class, int.class,
        int.class);
    m.setAccessible(true);
    return (String) m.invoke(null, rows, heads, kvHeads, headDim);
  }

  @Test
  void theSelfTestsNativesBindToTheBackendsLibrary() throws Exception {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    assertEquals("attention2K<G=16, DPL=4>", kernel(64, 32, 2, 128)); // glm-4-9b: 16 query heads per KV head
    // GLM-4-32B: 24 per KV head has no kernel of its own: the largest compiled group dividing it, twice
    assertEquals("attention2K<G=12, DPL=4>, 2 blocks per KV head", kernel(64, 48, 2, 128));
    assertEquals("attention2K<G=1, DPL=4>, 16 blocks per KV head", kernel(1, 32, 2, 128)); // split heads
    assertEquals("attentionAnyK (a warp per query head)", kernel(64, 4, 2, 256)); // headDim above 128
    assertEquals("none", kernel(64, 3, 2, 128)); // query heads not a multiple of the KV heads
  }

  private static Object call(String name, Object... args) throws Exception {
    Class<?>[] types = new Class<?>[args.length];
    java.util.Arrays.fill(types, int.class);
    Method m = CudaSelfTests.class.getDeclaredMethod(name, types);
    m.setAccessible(true);
    return m.invoke(null, args);
  }

  /**
   * The prefill kernel's entry points bind too, and its block shape is the documented one: 64 (token, query head)
   * rows, min(G, 64) heads of one KV head for 64 / min(G, 64) tokens, headDim 64 or 128 only.
   */
  @Test
  void thePrefillSelfTestsBindAndNameTheDocumentedBlockShape() throws Exception {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    assertEquals("prefillAttentionK<D=128> (4 tokens x 16 heads per block, 1 blocks per KV head)",
        call("prefillKernelName", 32, 2, 128)); // glm-4-9b
    assertEquals("prefillAttentionK<D=64> (64 tokens x 1 heads per block, 1 blocks per KV head)",
        call("prefillKernelName", 8, 8, 64)); // no GQA
    assertEquals("prefillAttentionK<D=128> (5 tokens x 12 heads per block, 1 blocks per KV head)",
        call("prefillKernelName", 24, 2, 128)); // 60 of the 64 rows used
    assertEquals("prefillAttentionK<D=128> (1 tokens x 64 heads per block, 2 blocks per KV head)",
        call("prefillKernelName", 192, 2, 128)); // 96 per KV head: two blocks of 64 heads
    assertEquals("none", call("prefillKernelName", 32, 2, 96)); // headDim 96: the decode kernels
    assertEquals("none", call("prefillKernelName", 3, 2, 128));
    assertEquals(11, call("prefillCases"));
  }

  private static int vectorized(int rows, int n, int inter, int headDim, int rot, boolean interleaved)
      throws Exception {
    Method m = CudaSelfTests.class.getDeclaredMethod("rowKernelsVectorized", int.class, int.class, int.class,
        int.class, int.class, int.class, int.class, boolean.class);
    m.setAccessible(true);
    return (int) m.invoke(null, rows, n, inter, 32, 2, headDim, rot, interleaved);
  }

  /**
   * The row kernels' 16-byte variants (1 addRmsNorm, 2 siluMul, 4 ropeQkv) serve only steps of more than 64 rows, so
   * decode steps keep the kernels the fused GEMVs match bit for bit, and only the shapes they cover: widths a multiple
   * of 8, a norm row that fits shared memory, interleaved RoPE of an even rotary dim.
   */
  @Test
  void theRowKernelsVectorizeOnlyPrefillSizedStepsOfCoveredShapes() throws Exception {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    assertEquals(7, vectorized(1024, 4096, 13696, 128, 64, true)); // glm-4-9b prefill
    assertEquals(7, vectorized(65, 4096, 13696, 128, 64, true));
    assertEquals(0, vectorized(64, 4096, 13696, 128, 64, true)); // a decode bucket
    assertEquals(0, vectorized(1, 4096, 13696, 128, 64, true));
    assertEquals(2 | 4, vectorized(1024, 4100, 13696, 128, 64, true)); // norm width not a multiple of 8
    assertEquals(2 | 4, vectorized(1024, 16392, 13696, 128, 64, true)); // norm row over 16,384
    assertEquals(1 | 4, vectorized(1024, 4096, 13699, 128, 64, true));
    assertEquals(1 | 2, vectorized(1024, 4096, 13696, 128, 64, false)); // half-split RoPE
    assertEquals(1 | 2, vectorized(1024, 4096, 13696, 128, 63, true)); // odd rotary dim
    assertEquals(1 | 2, vectorized(1024, 4096, 13696, 100, 64, true)); // headDim not a multiple of 8
  }
}

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
}

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
}

package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import org.junit.jupiter.api.Test;

/**
 * The cuBLASLt self-check's JNI entry points (gemm_lt_check.cu), declared by this jar's CudaGemmTests, bind to the
 * backend's own library: the one that needs no device, describeLast, answers the empty string before any shape was
 * timed (a misnamed entry point would fail here with UnsatisfiedLinkError rather than on the GPU machine).
 */
class CudaGemmTestsBindingTest {
  @Test
  void theGemmSelfTestNativesBindToTheBackendsLibrary() throws Exception {
    assumeTrue(CudaNative.loadError().isEmpty(), () -> "the native library did not load: " + CudaNative.loadError());
    Method m = CudaGemmTests.class.getDeclaredMethod("describeLast");
    m.setAccessible(true);
    assertEquals("", m.invoke(null));
  }
}

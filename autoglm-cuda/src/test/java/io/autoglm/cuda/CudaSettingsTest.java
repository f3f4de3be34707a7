package io.autoglm.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The backend's properties are checked before any device memory is taken; runs without a GPU. */
class CudaSettingsTest {
  @Test
  void defaultsAreTheDocumentedOnes() {
    CudaSettings s = CudaSettings.from(Map.of());
    assertEquals(new CudaSettings(Optional.empty(), Optional.empty(), true, true, 1, 2, true, 1, true, 32, true, 64,
        Optional.empty(), 32L << 20, 16L << 20, 16, 128, 16, CudaSettings.Gemm.CUBLAS, 0, 2, 4, 2), s);
  }

  @Test
  void valuesAreRead() {
    CudaSettings s = CudaSettings.from(Map.of("cuda.graphs", "FALSE", "cuda.fuse", "7", "cuda.attnVariant", "1",
        "cuda.maxGraphs", "3", "cuda.arenaBytes", "1048576", "cuda.cublasPath", "/opt/libcublas.so.12",
        "other.key", "ignored"));
    assertFalse(s.graphs());
    assertEquals(7, s.fuse());
    assertEquals(1, s.attnVariant());
    assertEquals(3, s.maxGraphs());
    assertEquals(Optional.of(1048576L), s.arenaBytes());
    assertEquals(Optional.of("/opt/libcublas.so.12"), s.cublasPath());
    assertTrue(s.pdl());
    assertEquals(0, CudaSettings.from(Map.of("cuda.gemvTc", " 0 ")).gemvTc());
    assertEquals(8, CudaSettings.from(Map.of("cuda.gemvTc", "8")).gemvTc());
  }

  @Test
  void badValuesNameThePropertyTheValueAndWhatWasExpected() {
    assertMessage(Map.of("cuda.graphs", "yes"), "CUDA backend property cuda.graphs is \"yes\"; expected true or false");
    assertMessage(Map.of("cuda.fuse", "8"), "CUDA backend property cuda.fuse is \"8\"; expected an integer in [0, 7]");
    assertMessage(Map.of("cuda.fuse", "one"),
        "CUDA backend property cuda.fuse is \"one\"; expected an integer in [0, 7]");
    assertMessage(Map.of("cuda.maxGraphs", "0"),
        "CUDA backend property cuda.maxGraphs is \"0\"; expected an integer in [1, 2147483647]");
    assertMessage(Map.of("cuda.attnVariant", "3"),
        "CUDA backend property cuda.attnVariant is \"3\"; expected an integer in [1, 2]");
    assertMessage(Map.of("cuda.prefillAttn", "-1"),
        "CUDA backend property cuda.prefillAttn is \"-1\"; expected an integer in [0, 1048576]");
    assertMessage(Map.of("cuda.decodeAttnTc", "-1"),
        "CUDA backend property cuda.decodeAttnTc is \"-1\"; expected an integer in [0, 1048576]");
    assertMessage(Map.of("cuda.gemvTc", "9"),
        "CUDA backend property cuda.gemvTc is \"9\"; expected an integer in [0, 8]");
    assertMessage(Map.of("cuda.gemvMaxRows", "0"),
        "CUDA backend property cuda.gemvMaxRows is \"0\"; expected an integer in [1, 8]");
    assertMessage(Map.of("cuda.fp8ActMinRows", "-3"),
        "CUDA backend property cuda.fp8ActMinRows is \"-3\"; expected an integer in [0, 2147483647]");
    assertMessage(Map.of("cuda.gemvTc", "-1"),
        "CUDA backend property cuda.gemvTc is \"-1\"; expected an integer in [0, 8]");
    assertMessage(Map.of("cuda.moeDeviceRouting", "on"),
        "CUDA backend property cuda.moeDeviceRouting is \"on\"; expected true or false");
    assertMessage(Map.of("cuda.tableBytes", "-5"),
        "CUDA backend property cuda.tableBytes is \"-5\"; expected a positive number of bytes");
    assertMessage(Map.of("cuda.arenaBytes", "8g"),
        "CUDA backend property cuda.arenaBytes is \"8g\"; expected a positive number of bytes");
  }

  @Test
  void theGemmPathIsOneOfItsThreeNamesAnyCase() {
    assertEquals(CudaSettings.Gemm.CUBLAS, CudaSettings.from(Map.of("cuda.gemm", "cublas")).gemm());
    assertEquals(CudaSettings.Gemm.LT, CudaSettings.from(Map.of("cuda.gemm", " LT ")).gemm());
    assertEquals(CudaSettings.Gemm.LT_TUNED, CudaSettings.from(Map.of("cuda.gemm", "lt-tuned")).gemm());
    assertEquals("lt-tuned", CudaSettings.from(Map.of("cuda.gemm", "Lt-Tuned")).properties().get("cuda.gemm"));
    assertMessage(Map.of("cuda.gemm", "lt_tuned"),
        "CUDA backend property cuda.gemm is \"lt_tuned\"; expected one of cublas, lt, lt-tuned");
    assertMessage(Map.of("cuda.gemm", ""),
        "CUDA backend property cuda.gemm is \"\"; expected one of cublas, lt, lt-tuned");
    var e = assertThrows(IllegalArgumentException.class,
        () -> CudaSettings.from(Map.of()).with("cuda.gemm", "cublasLt"));
    assertEquals("CUDA backend property cuda.gemm is \"cublasLt\"; expected one of cublas, lt, lt-tuned",
        e.getMessage());
  }

  @Test
  void theGemmPathFallsBackToTheSystemPropertyButTheMapWins() {
    String old = System.getProperty("cuda.gemm");
    try {
      System.setProperty("cuda.gemm", "lt");
      assertEquals(CudaSettings.Gemm.LT, CudaSettings.from(Map.of()).gemm());
      assertEquals(CudaSettings.Gemm.CUBLAS, CudaSettings.from(Map.of("cuda.gemm", "cublas")).gemm());
      System.setProperty("cuda.gemm", "fast");
      var e = assertThrows(IllegalArgumentException.class, () -> CudaSettings.from(Map.of()));
      assertEquals("CUDA backend property cuda.gemm is \"fast\"; expected one of cublas, lt, lt-tuned",
          e.getMessage());
    } finally {
      if (old == null) {
        System.clearProperty("cuda.gemm");
      } else {
        System.setProperty("cuda.gemm", old);
      }
    }
  }

  @Test
  void aMisspeltKeyIsAnErrorThatListsTheKnownOnes() {
    var e = assertThrows(IllegalArgumentException.class, () -> CudaSettings.from(Map.of("cuda.graph", "false")));
    assertTrue(e.getMessage().startsWith("unknown CUDA backend property cuda.graph; known properties: cuda.cublasPath, "
        + "cuda.ncclPath, cuda.graphs,"), e.getMessage());
  }

  @Test
  void tuningKnobsFallBackToSystemPropertiesButTheMapWins() {
    String old = System.getProperty("cuda.fuse");
    try {
      System.setProperty("cuda.fuse", "3");
      assertEquals(3, CudaSettings.from(Map.of()).fuse());
      assertEquals(0, CudaSettings.from(Map.of("cuda.fuse", "0")).fuse());
    } finally {
      if (old == null) {
        System.clearProperty("cuda.fuse");
      } else {
        System.setProperty("cuda.fuse", old);
      }
    }
  }

  @Test
  void eachCopyWithOneKnobChangedEqualsTheSettingsReadWithThatProperty() {
    CudaSettings d = CudaSettings.from(Map.of());
    Map<String, String> changed = new java.util.LinkedHashMap<>();
    changed.put("cuda.cublasPath", "/opt/libcublas.so");
    changed.put("cuda.ncclPath", "/opt/libnccl.so");
    changed.put("cuda.graphs", "false");
    changed.put("cuda.gemv", "false");
    changed.put("cuda.gemvVariant", "3");
    changed.put("cuda.attnVariant", "1");
    changed.put("cuda.pdl", "false");
    changed.put("cuda.fuse", "7");
    changed.put("cuda.attnSplitHeads", "false");
    changed.put("cuda.moeGroupedMaxRows", "5");
    changed.put("cuda.moeDeviceRouting", "false");
    changed.put("cuda.maxGraphs", "3");
    changed.put("cuda.arenaBytes", "1048576");
    changed.put("cuda.inputArenaBytes", "4096");
    changed.put("cuda.tableBytes", "8192");
    changed.put("cuda.prefillAttn", "0");
    changed.put("cuda.fp8MmaMaxRows", "9");
    changed.put("cuda.decodeAttnTc", "64");
    changed.put("cuda.gemm", "lt-tuned");
    changed.put("cuda.gemvTc", "2");
    changed.put("cuda.gemvMaxRows", "8");
    changed.put("cuda.fp8ActMinRows", "0");
    changed.put("cuda.fp8GemvTc", "0");
    assertEquals(CudaSettings.KEYS, List.copyOf(changed.keySet()), "the test names every key");
    for (var e : changed.entrySet()) {
      CudaSettings copy = d.with(e.getKey(), e.getValue());
      assertEquals(CudaSettings.from(Map.of(e.getKey(), e.getValue())), copy, e.getKey());
      assertNotEquals(d, copy, e.getKey() + " changed nothing");
    }
    assertEquals(CudaSettings.from(changed), CudaSettings.from(CudaSettings.from(changed).properties()),
        "properties() reads back into equal settings");
  }

  @Test
  void aCopyOutsideAKnobsRangeIsRejectedWithItsName() {
    var e = assertThrows(IllegalArgumentException.class, () -> CudaSettings.from(Map.of()).with("cuda.fuse", 8));
    assertEquals("CUDA backend property cuda.fuse is \"8\"; expected an integer in [0, 7]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> CudaSettings.from(Map.of()).with("cuda.gemvVariant", -1));
    assertEquals("CUDA backend property cuda.gemvVariant is \"-1\"; expected an integer in [0, 64]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> CudaSettings.from(Map.of()).with("cuda.pdll", true));
    assertTrue(e.getMessage().startsWith("unknown CUDA backend property cuda.pdll; known properties: cuda.cublasPath"),
        e.getMessage());
  }

  @Test
  void theLogitsHeadIsRecognisedWholeAndAsARanksVocabRows() {
    assertTrue(CudaBackend.isLogitsHead("lm_head.weight"));
    assertTrue(CudaBackend.isLogitsHead("lm_head.weight[0:75776]"));
    assertTrue(CudaBackend.isLogitsHead("model.embed_tokens.weight[75776:151552]"));
    assertFalse(CudaBackend.isLogitsHead("model.layers.0.mlp.down_proj.weight[:, 0:6848]"));
  }

  private static void assertMessage(Map<String, String> props, String expected) {
    var e = assertThrows(IllegalArgumentException.class, () -> CudaSettings.from(props));
    assertEquals(expected, e.getMessage());
  }

  @Test
  void anFp8KvCacheIsRefusedByNameUntilItsDeviceCheckAdmitsIt() {
    io.autoglm.backend.BackendOptions fp8 = new io.autoglm.backend.BackendOptions(List.of(), 0.9,
        Map.of("autoglm.kvCacheDtype", "fp8"));
    String before = System.getProperty(CudaBackend.FP8_KV_UNCHECKED);
    try {
      System.clearProperty(CudaBackend.FP8_KV_UNCHECKED);
      assertEquals("backend property autoglm.kvCacheDtype is fp8, which the cuda backend does not take yet: its FP8 "
          + "KV cache is built but not yet checked on a GPU (docs/fp8.md#fp8-kv-cache); use auto",
          assertThrows(IllegalArgumentException.class, () -> CudaBackend.kvCacheFp8(fp8)).getMessage());
      assertFalse(CudaBackend.kvCacheFp8(io.autoglm.backend.BackendOptions.defaults()));
      System.setProperty(CudaBackend.FP8_KV_UNCHECKED, "true");
      assertTrue(CudaBackend.kvCacheFp8(fp8));
      io.autoglm.backend.BackendOptions bad = new io.autoglm.backend.BackendOptions(List.of(), 0.9,
          Map.of("autoglm.kvCacheDtype", "fp16"));
      assertEquals("backend property autoglm.kvCacheDtype is fp16; expected auto or fp8",
          assertThrows(IllegalArgumentException.class, () -> CudaBackend.kvCacheFp8(bad)).getMessage());
    } finally {
      if (before == null) {
        System.clearProperty(CudaBackend.FP8_KV_UNCHECKED);
      } else {
        System.setProperty(CudaBackend.FP8_KV_UNCHECKED, before);
      }
    }
  }
}

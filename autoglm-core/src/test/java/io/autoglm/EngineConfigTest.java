package io.autoglm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.autoglm.backend.BackendOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The builder's rules, Caffeine's: each setting once, cross-field checks in config(), builder reusable. */
class EngineConfigTest {
  private static final Path MODEL = Path.of("some-model");

  @Test
  void aSettingGivenTwiceIsRefusedNamingBothValues() {
    AutoGLM.Builder b = AutoGLM.builder().maxBatchTokens(2048);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.maxBatchTokens(512));
    assertEquals("maxBatchTokens was already set to 2048; cannot set it to 512", e.getMessage());
    IllegalStateException p = assertThrows(IllegalStateException.class,
        () -> b.backendProperty("cuda.graphs", "on").backendProperty("cuda.graphs", "off"));
    assertEquals("backendProperty cuda.graphs was already set to on; cannot set it to off", p.getMessage());
  }

  @Test
  void unsetValuesAreEmptyNotSentinels() {
    EngineConfig c = AutoGLM.builder().modelPath(MODEL).config();
    assertEquals(OptionalInt.empty(), c.kvBlocks());
    assertEquals(OptionalInt.empty(), c.maxModelLen());
    assertEquals(Optional.empty(), c.backendName());
    assertEquals("some-model", c.effectiveModelId());
    // the documented defaults
    assertEquals(16, c.kvBlockSizeTokens());
    assertEquals(1L << 30, c.kvCacheBytes());
    assertEquals(256, c.maxRunningSequences());
    assertEquals(2048, c.maxBatchTokens());
    assertEquals(4096, c.maxWaitingRequests());
    assertEquals(4096, c.contextTokens(4096));
  }

  @Test
  void crossFieldRulesAreCheckedInConfigAndTheBuilderStaysReusable() {
    AutoGLM.Builder b = AutoGLM.builder();
    assertEquals("modelPath is not set", assertThrows(IllegalStateException.class, b::config).getMessage());
    b.modelPath(MODEL).maxModelLen(100);
    EngineConfig first = b.config();
    assertEquals(first, b.config(), "config() leaves the builder as it was");
    assertEquals(100, first.contextTokens(4096));
    assertEquals(50, first.contextTokens(50));
    b.metrics(io.autoglm.spi.EngineMetrics.none())
        .meterRegistry(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    IllegalStateException both = assertThrows(IllegalStateException.class, b::config);
    assertTrue(both.getMessage().startsWith("set metrics(…) or meterRegistry(…), not both"), both.getMessage());
  }

  @Test
  void theRecordNamesTheBadValue() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> AutoGLM.builder().modelPath(MODEL).memoryFraction(1.5).config());
    assertEquals("memoryFraction (1.5) must be in (0, 1]", e.getMessage());
    IllegalArgumentException len = assertThrows(IllegalArgumentException.class, () -> new EngineConfig(MODEL,
        Optional.empty(), Optional.empty(), Optional.empty(), 16, OptionalInt.empty(), 1L << 30, 0.9, 256, 2048,
        4096, OptionalInt.of(0), true, false, 1, 1, List.of(), Map.of()));
    assertEquals("maxModelLen (0) must be >= 1 tokens", len.getMessage());
    assertEquals("kvBlocks (1) must be >= 2 (block 0 is reserved); leave it unset to size the cache from memory",
        assertThrows(IllegalArgumentException.class, () -> AutoGLM.builder().kvBlocks(1)).getMessage());
  }

  @Test
  void kvCacheDtypeReachesTheBackendAsItsPropertyAndRefusesOtherValues() {
    assertEquals(Map.of("autoglm.kvCacheDtype", "fp8"),
        AutoGLM.builder().modelPath(MODEL).kvCacheDtype("fp8").config().backendProperties());
    assertEquals("kvCacheDtype (fp8_e5m2) must be one of [auto, fp8]", assertThrows(IllegalArgumentException.class,
        () -> AutoGLM.builder().kvCacheDtype("fp8_e5m2")).getMessage());
    assertEquals("kvCacheDtype (fp8) contradicts backendProperty autoglm.kvCacheDtype = auto", assertThrows(
        IllegalStateException.class, () -> AutoGLM.builder().modelPath(MODEL).kvCacheDtype("fp8")
            .backendProperty("autoglm.kvCacheDtype", "auto").config()).getMessage());
    BackendOptions bad = new BackendOptions(List.of(), 0.9, Map.of("autoglm.kvCacheDtype", "int8"));
    assertEquals("backend property autoglm.kvCacheDtype is int8; expected auto or fp8", assertThrows(
        IllegalArgumentException.class, () -> bad.kvCacheFp8("cpu", true)).getMessage());
    BackendOptions fp8 = new BackendOptions(List.of(), 0.9, Map.of("autoglm.kvCacheDtype", "fp8"));
    assertEquals("backend property autoglm.kvCacheDtype is fp8, which the cuda backend does not implement yet (the "
        + "cpu backend's reference does: docs/fp8.md#fp8-kv-cache); use auto", assertThrows(
        IllegalArgumentException.class, () -> fp8.kvCacheFp8("cuda", false)).getMessage());
    assertTrue(fp8.kvCacheFp8("cpu", true));
    assertFalse(BackendOptions.defaults().kvCacheFp8("cuda", false));
  }

  @Test
  void quantizationReachesTheBackendAsItsPropertyAndRefusesOtherValues() {
    EngineConfig c = AutoGLM.builder().modelPath(MODEL).quantization("fp8").config();
    assertEquals(Map.of("autoglm.quantization", "fp8"), c.backendProperties());
    assertEquals(Map.of(), AutoGLM.builder().modelPath(MODEL).config().backendProperties());
    assertEquals("quantization (int4) must be one of [fp8, int8]", assertThrows(IllegalArgumentException.class,
        () -> AutoGLM.builder().quantization("int4")).getMessage());
    assertEquals(Map.of("autoglm.quantization", "int8"),
        AutoGLM.builder().modelPath(MODEL).quantization("int8").config().backendProperties());
    assertEquals("quantization must not be null", assertThrows(IllegalArgumentException.class,
        () -> AutoGLM.builder().quantization(null)).getMessage());
    assertEquals("quantization was already set to fp8; cannot set it to fp8", assertThrows(
        IllegalStateException.class, () -> AutoGLM.builder().quantization("fp8").quantization("fp8")).getMessage());
    assertEquals("quantization (fp8) contradicts backendProperty autoglm.quantization = int4", assertThrows(
        IllegalStateException.class, () -> AutoGLM.builder().modelPath(MODEL).quantization("fp8")
            .backendProperty("autoglm.quantization", "int4").config()).getMessage());
    assertEquals(Map.of("autoglm.quantization", "fp8"), AutoGLM.builder().modelPath(MODEL).quantization("fp8")
        .backendProperty("autoglm.quantization", "fp8").config().backendProperties());
  }
}

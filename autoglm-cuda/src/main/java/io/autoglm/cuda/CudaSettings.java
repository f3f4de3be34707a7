package io.autoglm.cuda;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CUDA backend's settings, immutable and given at creation: the {@code cuda.*} backend properties, read and
 * checked before any device memory is touched, so a bad value fails with a sentence naming the property, the value
 * and what was expected, and nothing has to be released. Keys come from {@code AutoGLM.builder().backendProperty(...)};
 * the tuning knobs also fall back to a JVM system property of the same name, as do the library paths. An unknown
 * {@code cuda.*} key is an error (a misspelt knob would otherwise be silently ignored).
 *
 * <p>A running backend never changes its settings on its own; only the benchmark tools replace them, whole, through
 * {@link CudaDiagnostics#reconfigure}, with {@link #with} copies.
 */
record CudaSettings(
    Optional<String> cublasPath,
    Optional<String> ncclPath,
    boolean graphs,
    boolean gemv,
    int gemvVariant,
    int attnVariant,
    boolean pdl,
    int fuse,
    boolean attnSplitHeads,
    int moeGroupedMaxRows,
    boolean moeDeviceRouting,
    int maxGraphs,
    Optional<Long> arenaBytes,
    long inputArenaBytes,
    long tableBytes,
    int prefillAttn,
    int fp8MmaMaxRows,
    int decodeAttnTc,
    Gemm gemm,
    int gemvTc,
    int gemvMaxRows,
    int fp8ActMinRows,
    int fp8GemvTc) {

  /**
   * {@code cuda.gemm}: what runs the bf16 GEMMs of linears the small-batch GEMVs do not take (gemm_lt.cu).
   * {@code cublas}: cublasGemmEx with its default algorithm, then the bias kernel (the default); {@code lt}: cuBLASLt,
   * the heuristic's first algorithm per shape, the bias fused into its epilogue; {@code lt-tuned}: cuBLASLt with the
   * fastest of cublasGemmEx and the heuristic's candidates, timed on the device at each shape's first call outside a
   * graph capture. Without libcublasLt, or for a shape cuBLASLt fails, cublasGemmEx runs (one log line).
   */
  enum Gemm {
    CUBLAS("cublas"), LT("lt"), LT_TUNED("lt-tuned");

    final String value;

    Gemm(String value) {
      this.value = value;
    }
  }

  /** {@code cuda.fuse} bit: RoPE of q and k and the KV write in the QKV GEMV's epilogue (steps of up to 8 rows). */
  static final int FUSE_QKV_ROPE = 1;
  /** {@code cuda.fuse} bit: residual add + RMSNorm in the QKV GEMV's prologue (with FUSE_QKV_ROPE; up to 4 rows). */
  static final int FUSE_QKV_NORM = 2;
  /** {@code cuda.fuse} bit: residual add + RMSNorm in the gate_up GEMV's prologue (up to 4 rows). */
  static final int FUSE_MLP_NORM = 4;

  CudaSettings {
    check("cuda.gemvVariant", gemvVariant, 0, 64);
    check("cuda.attnVariant", attnVariant, 1, 2);
    check("cuda.fuse", fuse, 0, 7);
    check("cuda.moeGroupedMaxRows", moeGroupedMaxRows, 0, Integer.MAX_VALUE);
    check("cuda.maxGraphs", maxGraphs, 1, Integer.MAX_VALUE);
    check("cuda.prefillAttn", prefillAttn, 0, MAX_PREFILL_ATTN);
    check("cuda.fp8MmaMaxRows", fp8MmaMaxRows, 0, Integer.MAX_VALUE);
    check("cuda.decodeAttnTc", decodeAttnTc, 0, MAX_DECODE_ATTN_TC);
    java.util.Objects.requireNonNull(gemm, "cuda.gemm");
    check("cuda.gemvTc", gemvTc, 0, MAX_GEMV_TC);
    check("cuda.gemvMaxRows", gemvMaxRows, 1, MAX_GEMV_TC);
    check("cuda.fp8ActMinRows", fp8ActMinRows, 0, Integer.MAX_VALUE);
    check("cuda.fp8GemvTc", fp8GemvTc, 0, MAX_GEMV_TC);
  }

  /**
   * Default {@code cuda.decodeAttnTc}: steps of at least this many rows × KV heads take the tensor-core decode
   * attention. 16 = batch 8 at glm-4-9b's 2 KV heads: in the H200 kernel table of 2026-12-03 (context 133) it is
   * faster than the decode kernels from 8 rows on (16.7 against 24.5 µs at 8 rows, 11.2 against 37.2 at 64, 23.2
   * against 68.0 at 256), and decode tok/s with it on ≥ off from batch 16 on (2,438 / 9,605 / 25,397 against 2,305 /
   * 8,444 / 21,736 at 16 / 64 / 256); smaller steps keep the decode kernels (not measured).
   */
  static final int DEFAULT_DECODE_ATTN_TC = 16;
  /**
   * Default {@code cuda.fp8MmaMaxRows}: FP8 linears beyond the GEMVs ({@code cuda.gemvMaxRows}) up to 128 rows take
   * the tensor-core FP8 GEMM, larger ones the dequantize + cuBLAS path. From the H200 per-shape table of 2026-12-03 (docs/benchmarks.md): at 64 rows the MMA
   * kernel is 1.1–2.4× faster per shape, at 128 mixed, at 256 the dequantize + cuBLAS path wins every shape (1.2–1.8×).
   */
  static final int DEFAULT_FP8_MMA_MAX_ROWS = 128;
  /**
   * Default {@code cuda.gemvTc}: off. GEMV steps of at least this many rows (up to {@link #MAX_GEMV_TC}, and no more
   * than {@code cuda.gemvMaxRows}) take the tensor-core GEMV (gemv_tc.cu) instead of the CUDA-core in-split GEMVs.
   * On the H200 (2026-12-03, docs/benchmarks.md) it beats the in-split GEMVs from 4 rows on per kernel, but decode
   * with it at 3..8 rows (6.23 / 6.29 / 7.98 ms at 3 / 4 / 8) stays behind cuBLAS (6.12 / 6.18 / 6.27 ms).
   */
  static final int DEFAULT_GEMV_TC = 0;
  /**
   * Default {@code cuda.gemvMaxRows}: linears of more rows take cuBLAS (bf16) or the FP8 tensor-core GEMM. On the
   * H200 (2026-12-03, docs/benchmarks.md) bf16 decode steps with the in-split GEMVs take 5.16 / 5.65 / 7.52 / 7.60 /
   * 13.18 ms at 1 / 2 / 3 / 4 / 8 rows, with cuBLAS 5.94 / 5.98 / 6.12 / 6.18 / 6.27 ms; FP8 with its GEMVs 3.85 /
   * 4.89 / 7.54 / 12.78 ms at 1 / 2 / 4 / 8 rows, against 7.10 ms at 16 rows on the FP8 GEMM.
   */
  static final int DEFAULT_GEMV_MAX_ROWS = 2;
  /**
   * Default {@code cuda.fp8ActMinRows}: FP8 linears of at least this many rows that the GEMVs do not take run as FP8 ×
   * FP8 cuBLASLt GEMMs, their activations quantized per row and 128-column block (gemm_fp8_lt.cu; 0: never, every
   * FP8 linear keeps bf16 activations). Applies to 128×128-block weights with a 128-multiple input width. 4 is the
   * fewest rows the path takes (rows go in multiples of 4, the last rows % 4 on the tensor-core FP8 GEMM); on the
   * H200 (2026-12-03, docs/benchmarks.md) FP8 decode at batch 16 / 64 / 256 ran 2,875 / 11,360 / 30,292 tok/s with
   * it against 2,247 / 7,338 / 13,635 weight-only, and TTFT of 1,024 tokens 22.2 against 37.7 ms (one process).
   */
  static final int DEFAULT_FP8_ACT_MIN_ROWS = 4;
  /**
   * Default {@code cuda.fp8GemvTc}: FP8 linears of 2 to 8 rows (scale blocks at least 128 columns wide) take the
   * tensor-core FP8 GEMVs (gemv_fp8_mma.cu), whatever {@code cuda.gemvMaxRows} says; 1 row the scalar FP8 GEMVs. On
   * the H200 (2026-12-04, docs/benchmarks.md) the tensor-core ones take the same time from 1 to 8 rows (gate_up +
   * SiLU 39.6–42.9 µs, down 19.9–21.7) where the scalar ones grow (31.4 / 42.3 / 79.6 / 138.7 µs at 1 / 2 / 4 / 8
   * rows on gate_up); at 1 row the scalar ones are faster on qkv and gate_up (glm-4-9b FP8 decode 263.6 against 239.9
   * tok/s), from 2 rows the tensor-core ones (447.7 / 849.9 tok/s at 2 / 4 against 414.1 / 732.5).
   */
  static final int DEFAULT_FP8_GEMV_TC = 2;
  /** Largest {@code cuda.gemvTc}: the GEMVs serve at most 8 rows. */
  static final int MAX_GEMV_TC = 8;
  /** Largest {@code cuda.decodeAttnTc}. */
  static final int MAX_DECODE_ATTN_TC = 1 << 20;

  /** Default {@code cuda.prefillAttn}: sequences of at least 16 query tokens take the tensor-core prefill kernel. */
  static final int DEFAULT_PREFILL_ATTN = 16;
  /** Largest {@code cuda.prefillAttn}. */
  static final int MAX_PREFILL_ATTN = 1 << 20;

  private static void check(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(String.format("%s is %d; expected an integer in [%d, %d]", key, value, min,
          max));
    }
  }

  /**
   * A copy with one property replaced, read and checked exactly as {@link #from} reads it (so the copy equals the
   * settings read with that property given, and a bad value fails with the same sentence).
   */
  CudaSettings with(String key, Object value) {
    if (!KEYS.contains(key)) {
      throw new IllegalArgumentException(String.format(
          "unknown CUDA backend property %s; known properties: %s", key, String.join(", ", KEYS)));
    }
    Map<String, String> p = new java.util.LinkedHashMap<>(properties());
    p.put(key, String.valueOf(value));
    return from(p);
  }

  /** These settings as the {@code cuda.*} properties that {@link #from} reads back into equal settings. */
  Map<String, String> properties() {
    Map<String, String> p = new java.util.LinkedHashMap<>();
    cublasPath.ifPresent(v -> p.put("cuda.cublasPath", v));
    ncclPath.ifPresent(v -> p.put("cuda.ncclPath", v));
    p.put("cuda.graphs", String.valueOf(graphs));
    p.put("cuda.gemv", String.valueOf(gemv));
    p.put("cuda.gemvVariant", String.valueOf(gemvVariant));
    p.put("cuda.attnVariant", String.valueOf(attnVariant));
    p.put("cuda.pdl", String.valueOf(pdl));
    p.put("cuda.fuse", String.valueOf(fuse));
    p.put("cuda.attnSplitHeads", String.valueOf(attnSplitHeads));
    p.put("cuda.moeGroupedMaxRows", String.valueOf(moeGroupedMaxRows));
    p.put("cuda.moeDeviceRouting", String.valueOf(moeDeviceRouting));
    p.put("cuda.maxGraphs", String.valueOf(maxGraphs));
    arenaBytes.ifPresent(v -> p.put("cuda.arenaBytes", String.valueOf(v)));
    p.put("cuda.inputArenaBytes", String.valueOf(inputArenaBytes));
    p.put("cuda.tableBytes", String.valueOf(tableBytes));
    p.put("cuda.prefillAttn", String.valueOf(prefillAttn));
    p.put("cuda.fp8MmaMaxRows", String.valueOf(fp8MmaMaxRows));
    p.put("cuda.decodeAttnTc", String.valueOf(decodeAttnTc));
    p.put("cuda.gemm", gemm.value);
    p.put("cuda.gemvTc", String.valueOf(gemvTc));
    p.put("cuda.gemvMaxRows", String.valueOf(gemvMaxRows));
    p.put("cuda.fp8ActMinRows", String.valueOf(fp8ActMinRows));
    p.put("cuda.fp8GemvTc", String.valueOf(fp8GemvTc));
    return p;
  }

  static final long DEFAULT_INPUT_ARENA_BYTES = 32L << 20;
  static final long DEFAULT_TABLE_BYTES = 16L << 20;

  /** Every key this backend reads, in the order the error message lists them. */
  static final List<String> KEYS = List.of("cuda.cublasPath", "cuda.ncclPath", "cuda.graphs", "cuda.gemv", "cuda.gemvVariant",
      "cuda.attnVariant", "cuda.pdl", "cuda.fuse", "cuda.attnSplitHeads", "cuda.moeGroupedMaxRows",
      "cuda.moeDeviceRouting", "cuda.maxGraphs", "cuda.arenaBytes", "cuda.inputArenaBytes", "cuda.tableBytes",
      "cuda.prefillAttn", "cuda.fp8MmaMaxRows", "cuda.decodeAttnTc", "cuda.gemm",
      "cuda.gemvTc", "cuda.gemvMaxRows", "cuda.fp8ActMinRows", "cuda.fp8GemvTc");

  static CudaSettings from(Map<String, String> p) {
    for (String key : p.keySet()) {
      if (key.startsWith("cuda.") && !KEYS.contains(key)) {
        throw new IllegalArgumentException(String.format(
            "unknown CUDA backend property %s; known properties: %s", key, String.join(", ", KEYS)));
      }
    }
    Reader r = new Reader(p);
    return new CudaSettings(
        Optional.ofNullable(r.raw("cuda.cublasPath", true)),
        Optional.ofNullable(r.raw("cuda.ncclPath", true)),
        r.bool("cuda.graphs", true, false),
        r.bool("cuda.gemv", true, false),
        r.integer("cuda.gemvVariant", 1, 0, 64, true),
        r.integer("cuda.attnVariant", 2, 1, 2, true),
        r.bool("cuda.pdl", true, true),
        r.integer("cuda.fuse", 1, 0, 7, true),
        r.bool("cuda.attnSplitHeads", true, true),
        r.integer("cuda.moeGroupedMaxRows", 32, 0, Integer.MAX_VALUE, false),
        r.bool("cuda.moeDeviceRouting", true, true),
        r.integer("cuda.maxGraphs", 64, 1, Integer.MAX_VALUE, false),
        p.containsKey("cuda.arenaBytes")
            ? Optional.of(r.bytes("cuda.arenaBytes", 0)) : Optional.empty(),
        r.bytes("cuda.inputArenaBytes", DEFAULT_INPUT_ARENA_BYTES),
        r.bytes("cuda.tableBytes", DEFAULT_TABLE_BYTES),
        r.integer("cuda.prefillAttn", DEFAULT_PREFILL_ATTN, 0, MAX_PREFILL_ATTN, true),
        r.integer("cuda.fp8MmaMaxRows", DEFAULT_FP8_MMA_MAX_ROWS, 0, Integer.MAX_VALUE, true),
        r.integer("cuda.decodeAttnTc", DEFAULT_DECODE_ATTN_TC, 0, MAX_DECODE_ATTN_TC, true),
        r.gemm("cuda.gemm", Gemm.CUBLAS),
        r.integer("cuda.gemvTc", DEFAULT_GEMV_TC, 0, MAX_GEMV_TC, true),
        r.integer("cuda.gemvMaxRows", DEFAULT_GEMV_MAX_ROWS, 1, MAX_GEMV_TC, true),
        r.integer("cuda.fp8ActMinRows", DEFAULT_FP8_ACT_MIN_ROWS, 0, Integer.MAX_VALUE, true),
        r.integer("cuda.fp8GemvTc", DEFAULT_FP8_GEMV_TC, 0, MAX_GEMV_TC, true));
  }

  private record Reader(Map<String, String> p) {
    private String raw(String key, boolean systemFallback) {
      String v = p.get(key);
      return v != null || !systemFallback ? v : System.getProperty(key);
    }

    boolean bool(String key, boolean dflt, boolean systemFallback) {
      String v = raw(key, systemFallback);
      if (v == null) {
        return dflt;
      }
      return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
        case "true" -> true;
        case "false" -> false;
        default -> throw new IllegalArgumentException(String.format(
            "CUDA backend property %s is \"%s\"; expected true or false", key, v));
      };
    }

    Gemm gemm(String key, Gemm dflt) {
      String v = raw(key, true);
      if (v == null) {
        return dflt;
      }
      for (Gemm g : Gemm.values()) {
        if (g.value.equals(v.trim().toLowerCase(java.util.Locale.ROOT))) {
          return g;
        }
      }
      throw new IllegalArgumentException(String.format("CUDA backend property %s is \"%s\"; expected one of %s", key,
          v, String.join(", ", java.util.Arrays.stream(Gemm.values()).map(g -> g.value).toList())));
    }

    int integer(String key, int dflt, int min, int max, boolean systemFallback) {
      String v = raw(key, systemFallback);
      if (v == null) {
        return dflt;
      }
      long n;
      try {
        n = Long.parseLong(v.trim());
      } catch (NumberFormatException e) {
        n = Long.MIN_VALUE;
      }
      if (n < min || n > max) {
        throw new IllegalArgumentException(String.format("CUDA backend property %s is \"%s\"; expected an integer "
            + "in [%d, %d]", key, v, min, max));
      }
      return (int) n;
    }

    long bytes(String key, long dflt) {
      String v = p.get(key);
      if (v == null) {
        return dflt;
      }
      try {
        long n = Long.parseLong(v.trim());
        if (n > 0) {
          return n;
        }
      } catch (NumberFormatException e) {
        // falls through to the message below
      }
      throw new IllegalArgumentException(String.format(
          "CUDA backend property %s is \"%s\"; expected a positive number of bytes", key, v));
    }
  }
}

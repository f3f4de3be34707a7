package io.autoglm.cuda;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code cuda.*} backend properties, read and checked before any device memory is touched, so a bad value fails
 * with a sentence naming the property, the value and what was expected, and nothing has to be released. Keys come
 * from {@code AutoGLM.builder().backendProperty(...)}; the tuning knobs also fall back to a JVM system property of
 * the same name, as do the library paths. An unknown {@code cuda.*} key is an error (a misspelt knob would otherwise be silently ignored).
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
    int maxGraphs,
    Optional<Long> arenaBytes,
    long inputArenaBytes,
    long tableBytes) {

  static final long DEFAULT_INPUT_ARENA_BYTES = 32L << 20;
  static final long DEFAULT_TABLE_BYTES = 16L << 20;

  /** Every key this backend reads, in the order the error message lists them. */
  static final List<String> KEYS = List.of("cuda.cublasPath", "cuda.ncclPath", "cuda.graphs", "cuda.gemv", "cuda.gemvVariant",
      "cuda.attnVariant", "cuda.pdl", "cuda.fuse", "cuda.attnSplitHeads", "cuda.moeGroupedMaxRows", "cuda.maxGraphs",
      "cuda.arenaBytes", "cuda.inputArenaBytes", "cuda.tableBytes");

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
        r.integer("cuda.maxGraphs", 64, 1, Integer.MAX_VALUE, false),
        p.containsKey("cuda.arenaBytes")
            ? Optional.of(r.bytes("cuda.arenaBytes", 0)) : Optional.empty(),
        r.bytes("cuda.inputArenaBytes", DEFAULT_INPUT_ARENA_BYTES),
        r.bytes("cuda.tableBytes", DEFAULT_TABLE_BYTES));
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

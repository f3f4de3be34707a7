package io.autoglm.examples.cli;

import io.autoglm.testkit.RandomCheckpoint;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes a random bf16 or FP8 checkpoint at real shapes. */
@Command(name = "init-random", mixinStandardHelpOptions = true,
    description = "Write a random bf16 (or --dtype fp8: published block-scaled FP8) checkpoint in the transformers "
        + "layout (config, generation config, shards, index).")
final class InitRandomCommand implements Callable<Integer> {
  @Option(names = "--like", required = true, description = "Preset: ${COMPLETION-CANDIDATES}.",
      completionCandidates = Presets.class)
  String like;

  @Option(names = "--set", description = "Override a config field, e.g. --set num_hidden_layers=2 (repeatable).")
  List<String> overrides = List.of();

  @Option(names = "--out", required = true, description = "Output folder.")
  Path out;

  @Option(names = "--max-shard-mb", defaultValue = "2000", description = "Shard size limit in MB (default ${DEFAULT-VALUE}).")
  long maxShardMb;

  @Option(names = "--seed", defaultValue = "0", description = "Random seed (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--dtype", defaultValue = "bf16", description = "bf16, or fp8: the decoder's linear weights as "
      + "F8_E4M3 with F32 128×128 block scales (as GLM-4.5-FP8), the rest bf16 (default ${DEFAULT-VALUE}).")
  String dtype;

  static final class Presets implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return RandomCheckpoint.presets().iterator();
    }
  }

  @Override
  public Integer call() {
    Map<String, String> set = new LinkedHashMap<>();
    for (String o : overrides) {
      int eq = o.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--set " + o + ": expected key=value");
      }
      set.put(o.substring(0, eq), o.substring(eq + 1));
    }
    if (!dtype.equals("bf16") && !dtype.equals("fp8")) {
      throw new IllegalArgumentException("--dtype " + dtype + ": expected bf16 or fp8");
    }
    RandomCheckpoint bf16 = RandomCheckpoint.like(like, set, maxShardMb * 1_000_000L, seed);
    RandomCheckpoint ckpt = dtype.equals("fp8") ? bf16.fp8() : bf16;
    System.err.println("writing " + like + " (" + dtype + ") " + ckpt.modelConfig() + " to " + out);
    ckpt.write(out, System.err::println);
    System.out.println(out.toAbsolutePath());
    return 0;
  }
}
